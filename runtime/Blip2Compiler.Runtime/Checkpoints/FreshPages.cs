using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Makes a newly allocated CPU tensor's pages present in one system call (<c>madvise(MADV_POPULATE_WRITE)</c>,
/// Linux 5.14) before the loader writes it, instead of one page fault per 4 KiB page as the write reaches it.
/// </summary>
/// <remarks>
/// Why: a load that converts (float32 → bfloat16/float16) or fuses writes every parameter byte into new memory, and on
/// this VM new memory is what a load waits for: first-touch faults fill 0.98–1.16 GB/s on one thread and 1.81 GB/s on
/// two, the same pages populated in one call 1.90–1.99 GB/s on one thread (a C probe of 2–4 GB, 2026-12-01; 2.1 GB/s
/// with MAP_POPULATE). So a loader thread populating a parameter and then converting into it spends half the time
/// in the kernel that its faults did. Best effort: an older kernel (EINVAL), a full machine (ENOMEM) or another OS
/// leaves the pages to fault in as before, with the same result. <c>BLIP2_POPULATE=0</c> turns it off (the load
/// benchmark's A/B).
/// </remarks>
internal static unsafe partial class FreshPages
{
    /// <summary>Below this a tensor sits in pages malloc already holds, or is too small to matter.</summary>
    private const long MinBytes = 1 << 20;

    private const int MadvPopulateWrite = 23;
    private const int Eintr = 4;

    private static readonly bool Enabled = OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("BLIP2_POPULATE") != "0";
    private static readonly long PageSize = Environment.SystemPageSize;

    /// <summary>Populates the whole pages inside <paramref name="tensor"/>'s bytes (a contiguous CPU tensor just allocated).</summary>
    public static void Populate(Tensor tensor)
    {
        var bytes = tensor.NumberOfElements * tensor.ElementSize;
        if (!Enabled || bytes < MinBytes || tensor.device_type != TorchSharp.DeviceType.CPU || !tensor.is_contiguous()) return;
        nint start;
        using (var flat = tensor.reshape(-1))
        using (var first = flat.narrow(0, 0, 1))
            start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(first.bytes));
        // Whole pages only: the first and last may be shared with malloc's neighbours (already present).
        var from = (start + (nint)PageSize - 1) & ~((nint)PageSize - 1);
        var to = (start + (nint)bytes) & ~((nint)PageSize - 1);
        if (to <= from) return;
        while (Madvise(from, (nuint)(to - from), MadvPopulateWrite) != 0 && Marshal.GetLastPInvokeError() == Eintr) { }
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
