using System.Runtime.InteropServices;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Makes the pages of a piece of new parameter memory present just before the loader writes it: one
/// <c>madvise(MADV_POPULATE_WRITE)</c> per piece of at most <see cref="PieceBytes"/>, so the kernel faults in a
/// piece's pages in one system call instead of taking one page-fault exception per 4 KiB page while the conversion
/// (or the read) writes them. The pages are zeroed and then written while still in the cache, as by the faults.
/// </summary>
/// <remarks>
/// Why: on this VM a fresh page costs ~3 µs by fault (1.3-1.6 GB/s of new memory per thread), and a bfloat16 load of
/// opt-2.7b writes 7.7 GB of it. A C probe of the loader's pattern (2 threads, 50 MiB parameters each mapped anew,
/// float32 → bfloat16 in 512 KiB output pieces), alternated in fresh processes: populating each 1 MiB piece first
/// 2.02-2.48 GB/s (3.3-4.0 s CPU for 4.2 GB) against 1.56-1.68 GB/s (4.5-5.0 s) by faults. Populating a whole
/// parameter first instead was slower than the faults (0.57-0.66 against 0.64-0.93 GB/s in the same probe, and
/// session 6's loader experiment measured no gain): its zeroing goes to memory, and the conversion then writes every
/// line a second time from there. Transparent huge pages were slower again (0.93-1.44 GB/s: this guest's free 8 MiB
/// blocks go back to the host, so a new huge page is a new host page). Linux 5.14+; anywhere else (or a kernel that
/// refuses the advice) nothing is done and the writes fault the pages in as before.
/// </remarks>
internal static partial class FreshPages
{
    /// <summary>Populated per call: a few hundred pages, so the zeroed lines are still cached when they are written,
    /// and the address space's lock is held only briefly against the other loader threads' mappings.</summary>
    public const int PieceBytes = 1 << 20;

    private const int MadvPopulateWrite = 23;
    private static readonly long PageSize = Environment.SystemPageSize;
    private static volatile bool _works = OperatingSystem.IsLinux()
        && Environment.GetEnvironmentVariable("BLIP2_LOAD_POPULATE") != "0";

    /// <summary>Whether <see cref="Populate"/> does anything here (Linux 5.14+, not turned off).</summary>
    public static bool Enabled => _works;

    /// <summary>Populates the whole pages inside <paramref name="memory"/> (new, private, writable memory the caller
    /// is about to write whole); best effort: a failure only turns it off.</summary>
    public static unsafe void Populate(Span<byte> memory)
    {
        if (!_works || memory.Length < PageSize) return;
        fixed (byte* start = memory)
        {
            var first = ((long)start + PageSize - 1) & ~(PageSize - 1);
            var end = ((long)start + memory.Length) & ~(PageSize - 1);
            if (end <= first) return;
            if (Madvise((nint)first, (nuint)(end - first), MadvPopulateWrite) != 0 && Marshal.GetLastPInvokeError() != 4 /* EINTR */)
                _works = false;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
