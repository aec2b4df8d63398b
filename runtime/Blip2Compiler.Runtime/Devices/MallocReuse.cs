using System.Runtime.InteropServices;

namespace Blip2Compiler;

/// <summary>
/// Tells glibc's malloc to keep and reuse freed memory (<c>mallopt</c>: blocks under 32 MiB from the heap instead of
/// a fresh <c>mmap</c> each, and up to 1 GiB of freed heap kept instead of trimmed back to the kernel), for processes
/// that run the model over and over (a server, a dataset job). Unless the user tuned malloc (<c>GLIBC_TUNABLES</c>
/// or a <c>MALLOC_*_</c> variable), and only where glibc is the C library.
/// </summary>
/// <remarks>
/// Why: libtorch allocates every intermediate through malloc, a decoding step's logits alone 1.6 MB on mid and a
/// vision layer's activations several MB, and by default glibc serves blocks over its (adaptive) mmap threshold
/// with fresh mappings and trims freed heap memory, so the next request faults the same amount in again, at
/// 1.0–1.2 GB/s on this VM (first touch). Measured with the same effect through
/// <c>GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184</c>, quiet 2-core
/// VM, `engine-load --config mid --threads 2 --iterations 5`, one run each: a lone caption 1936 → 1908 ms, the engine
/// at one caller 0.494 → 0.553 captions/s (decoding step 56.1 → 50.8 ms, image encoding 186 → 160 ms), at 8 callers
/// 1.82 → 1.95 captions/s. The price is resident memory that stays at the process's high-water mark of intermediates
/// (a steady server's is its working set anyway), which is why it is not the library's default.
/// </remarks>
public static partial class MallocReuse
{
    private const int MTrimThreshold = -1, MMmapThreshold = -3;
    private const int MmapThreshold = 32 << 20;      // glibc's upper bound for it (HEAP_MAX_SIZE / 2 on 64-bit)
    private const int TrimThreshold = 1 << 30;

    /// <summary>Applies it; false when the user's own malloc settings were kept or this is not glibc.</summary>
    public static bool Apply()
    {
        if (!OperatingSystem.IsLinux()) return false;
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is { } tunables && tunables.Contains("glibc.malloc", StringComparison.Ordinal)) return false;
        foreach (var name in (string[])["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"])
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) return false;
        try
        {
            return Mallopt(MMmapThreshold, MmapThreshold) == 1 && Mallopt(MTrimThreshold, TrimThreshold) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            return false;   // musl and other C libraries without mallopt
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);
}
