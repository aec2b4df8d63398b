using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Asks Linux to back a freshly allocated parameter with transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c> on its
/// 2 MiB-aligned inside) before the loader writes it, as libtorch's own allocator does under
/// <c>THP_MEM_ALLOC_ENABLE=1</c>. Why: writing a new parameter faults its memory in page by page, and at 4 KiB pages
/// the faults, not the copy, bound a float32 load (see bench/RESULTS.md, <c>load</c>); a 2 MiB page takes one fault
/// for 512. Only memory the tensor owns is advised, so nothing more becomes resident. A no-op elsewhere, on kernels
/// without THP, and where THP is off (<c>never</c>); failures are ignored, the pages are just small then.
/// <c>BLIP2_LOAD_HUGE_PAGES=0</c> turns it off (the load benchmark's A/B).
/// </summary>
internal static unsafe partial class HugePages
{
    private const long PageBytes = 2L << 20;
    private const int MadvHugepage = 14;

    private static readonly bool Enabled = Environment.GetEnvironmentVariable("BLIP2_LOAD_HUGE_PAGES") != "0";

    public static void Advise(Tensor tensor)
    {
        if (!Enabled || !OperatingSystem.IsLinux() || tensor.device_type != DeviceType.CPU || !tensor.is_contiguous()) return;
        var bytes = tensor.NumberOfElements * tensor.ElementSize;
        if (bytes < 2 * PageBytes) return;
        using var flat = tensor.reshape(-1);
        using var first = flat.narrow(0, 0, 1);
        long start;
        fixed (byte* data = first.bytes) start = (long)data;
        var begin = (start + PageBytes - 1) & ~(PageBytes - 1);
        var end = (start + bytes) & ~(PageBytes - 1);
        if (end > begin) _ = madvise((nint)begin, (nuint)(end - begin), MadvHugepage);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint address, nuint length, int advice);
}
