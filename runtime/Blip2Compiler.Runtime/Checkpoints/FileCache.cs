using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Drops a checkpoint file's pages from the operating system's page cache once the loader has read them into new
/// memory (<c>posix_fadvise(POSIX_FADV_DONTNEED)</c>), so nothing of the source stays resident after its parameter is
/// built (<see cref="CheckpointReadOptions.KeepFileCache"/> keeps them). The kernel drops only clean pages that no
/// process maps, so the pages of a zero-copy parameter (<see cref="MappedTensor"/>: mapped, they are the parameter)
/// and a page still being written stay; a page of a tensor another loader thread is still reading can only be dropped
/// if it lies wholly inside the range given, which the callers keep to bytes already read.
/// </summary>
/// <remarks>
/// Why: on this VM a bfloat16 load of opt-2.7b was bound by the zeroing of 7.7 GB of new memory (45 % of all samples
/// in <c>clear_page_erms</c>, 15 s of system time against 3 s of user): a guest page the host has not backed (free
/// memory is reported back to the host) costs ~6 µs on first touch. The file's cached pages are backed, and once
/// dropped they are the free pages the next allocations take, so the parameters land in them: 3 alternated pairs,
/// 4.5-5.6 s against 6.1-7.5 s, CPU 7.6-10.0 s against 11.5-14.1 s, and <c>clear_page_erms</c> 6.7 % of the samples
/// against 35 % (bench/RESULTS.md, session 8). The price is the next load of the same file, which reads the dropped
/// part from disk (here the 15 GB in 14.7 s against 2.05 s from the cache).
/// The kernel drops whole folios only (here up to 2 MiB each, so a range of 1 MiB drops almost nothing: 78 MB of
/// 1 GB in 1 MiB ranges, 992 MB in 64 MiB ones); the loader therefore drops each parameter's whole source range and,
/// at the end, each run of neighbouring tensors no zero-copy parameter maps, in one range (the folios two tensors
/// share). Mapped ranges are never advised: the kernel keeps their pages but would move them to its inactive list.
/// Linux only; elsewhere, or where the file system keeps its pages (tmpfs), nothing happens.
/// </remarks>
internal static partial class FileCache
{
    private const int PosixFadvDontNeed = 4;

    /// <summary>Drops the cached pages of <paramref name="handle"/>'s file that lie wholly inside
    /// [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) (length 0: to the end of the
    /// file); best effort, a refusal changes nothing.</summary>
    public static void Drop(SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux() || handle.IsClosed || handle.IsInvalid) return;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            _ = Fadvise((int)handle.DangerousGetHandle(), offset, length, PosixFadvDontNeed);
        }
        catch (ObjectDisposedException)
        {
            // Closed meanwhile: nothing to drop through it.
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int Fadvise(int fd, long offset, long length, int advice);
}
