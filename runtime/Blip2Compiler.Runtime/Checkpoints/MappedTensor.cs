using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// A CPU tensor whose memory is its bytes in the checkpoint file (zero copy): one private mapping
/// (<c>mmap(MAP_PRIVATE)</c>) of the tensor's byte range per tensor, its pages made present at once with
/// <c>madvise(MADV_POPULATE_READ)</c> (the page cache's own pages, nothing copied or zeroed), and unmapped by the
/// tensor's deleter when libtorch frees its storage. So resident memory is the parameter's bytes and nothing more (they
/// count in RSS as file pages and are the same pages as the file's cache), a write into the tensor copies the page it
/// touches and never reaches the file, and no mapping outlives the tensors made from it (a failed load frees its
/// tensors, and with them their mappings).
/// </summary>
/// <remarks>
/// Why: a float32 load into new memory is bound by the first touch of that memory on this VM (the kernel's faults and
/// zeroing, and most likely the host's backing of fresh guest pages: 0.95 GB/s on opt-2.7b, 8.9× <c>cat</c>), while
/// mapping the page cache costs only page tables: itm-vit-g's 4.69 GB float32 in 1.8 s against 21.3 s copied, in
/// 0.41 s of CPU against cat's 0.57 (bench/RESULTS.md, "zero-copy loads"). The price is the file's: a
/// file truncated in place while such a tensor is alive (not replaced by a rename, not deleted: both keep the old inode
/// alive) makes the next access to a page past the new end a SIGBUS, which ends the process, exactly as for a shared
/// library truncated under a running program (measured: <c>load-truncate</c> in bench/, exit 135), and bytes rewritten
/// in place show through pages not yet written.
/// Truncation during the load is caught: the file's length is checked before mapping, and a page past the end makes
/// the populate fail (EFAULT) instead of faulting. <see cref="CheckpointReadOptions.ZeroCopy"/> turns this off.
/// Only on Linux, for tensors of at least <see cref="MinBytes"/> whose offset is a multiple of their element size;
/// anything else (or a mapping the kernel refuses) returns null and is read as before.
/// </remarks>
internal static unsafe partial class MappedTensor
{
    /// <summary>Smaller tensors are read: a mapping costs two system calls, a page-table page and a VMA (the kernel's
    /// default limit is 65,530 per process), and shares its first and last page with its neighbours, while reading a
    /// few pages costs about as much; below 1 MiB are the biases and norms, under 1 % of any config's bytes.
    /// <c>BLIP2_ZERO_COPY_MIN_BYTES</c> sets another bound (at least 1): the bundled tiny checkpoints' largest tensor is
    /// 188 KiB, so the tests of a real `blip2 serve` process lower it to see what the process maps.</summary>
    public static long MinBytes { get; } =
        long.TryParse(Environment.GetEnvironmentVariable("BLIP2_ZERO_COPY_MIN_BYTES"), out var bytes) && bytes >= 1 ? bytes : 1 << 20;

    private const int ProtRead = 0x1, ProtWrite = 0x2, MapPrivate = 0x02;
    private const int MadvPopulateRead = 22;   // Linux 5.14
    private const int Eintr = 4, Efault = 14;

    /// <summary>Each live mapping by its tensor's data pointer, for the deleter (which libtorch calls with that pointer).</summary>
    private static readonly ConcurrentDictionary<nint, (nint Address, nuint Length)> Live = new();

    private static readonly long PageSize = Environment.SystemPageSize;

    private static readonly delegate* unmanaged[Cdecl]<nint, delegate* unmanaged[Cdecl]<nint, void>, long*, int, sbyte, sbyte, int, int, byte, nint> NewTensor =
        (delegate* unmanaged[Cdecl]<nint, delegate* unmanaged[Cdecl]<nint, void>, long*, int, sbyte, sbyte, int, int, byte, nint>)ResolveNewTensor();

    /// <summary>
    /// The tensor <paramref name="info"/> describes, over its bytes in the file, or null when it is not mapped (see
    /// the remarks). A file shorter than the tensor's end (truncated since its header was read) is a
    /// <see cref="CheckpointFormatException"/> naming the tensor, as for a read.
    /// </summary>
    public static Tensor? TryMap(SafeFileHandle handle, string path, TensorInfo info)
    {
        if (!OperatingSystem.IsLinux() || NewTensor == null || info.ByteLength < MinBytes
            || info.DataOffset % SafetensorsDTypes.ElementSize(info.DType) != 0)
            return null;
        var end = info.DataOffset + info.ByteLength;
        long fileLength;
        try
        {
            fileLength = RandomAccess.GetLength(handle);
        }
        catch (IOException e)
        {
            throw new CheckpointFormatException(path, $"tensor '{info.Name}' cannot be read: {e.Message}", e);
        }
        if (fileLength < end) throw PositionedTensorRead.Truncated(path, info, fileLength);

        var start = info.DataOffset - info.DataOffset % PageSize;
        var length = (nuint)(end - start);
        nint address;
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            address = Mmap(0, length, ProtRead | ProtWrite, MapPrivate, (int)handle.DangerousGetHandle(), start);
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
        if (address == -1) return null;   // e.g. the process's mapping limit: read it instead

        var data = address + (nint)(info.DataOffset - start);
        try
        {
            if (!Populate(address, length, path, info, handle)) { Munmap(address, length); return null; }
            Live[data] = (address, length);
            nint tensor;
            fixed (long* sizes = info.Shape)
                tensor = NewTensor(data, &Unmap, sizes, info.Shape.Length, (sbyte)info.DType, (sbyte)info.DType, 0, 0, 0);
            if (tensor == 0)
            {
                if (Live.TryRemove(data, out _)) Munmap(address, length);
                return null;
            }
            return Tensor.UnsafeCreateTensor(tensor);
        }
        catch
        {
            Live.TryRemove(data, out _);
            Munmap(address, length);
            throw;
        }
    }

    /// <summary>Makes every page of the mapping present (page-cache pages mapped read-only, copied on a write);
    /// false when the kernel cannot (then the tensor is read instead).</summary>
    private static bool Populate(nint address, nuint length, string path, TensorInfo info, SafeFileHandle handle)
    {
        while (Madvise(address, length, MadvPopulateRead) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Eintr) continue;
            // A page past the end of the file: truncated between the length check and now.
            if (errno == Efault) throw PositionedTensorRead.Truncated(path, info, RandomAccess.GetLength(handle));
            return false;   // EINVAL before Linux 5.14, ENOMEM, a poisoned page: the read path reports what it finds
        }
        return true;
    }

    /// <summary>The deleter libtorch calls with the data pointer when the last tensor over the storage is freed.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Unmap(nint data)
    {
        if (Live.TryRemove(data, out var mapping)) Munmap(mapping.Address, mapping.Length);
    }

    /// <summary>LibTorchSharp's <c>THSTensor_new(data, deleter, sizes, ndim, type, dtype, device_type, device_index,
    /// requires_grad)</c> (<c>torch::from_blob</c> with a deleter), resolved from the library TorchSharp itself loaded;
    /// TorchSharp's public <c>torch.tensor</c> overloads copy.</summary>
    private static nint ResolveNewTensor()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        TorchBackend.Initialize();
        return NativeLibrary.TryLoad("LibTorchSharp", typeof(torch).Assembly, null, out var library)
            && NativeLibrary.TryGetExport(library, "THSTensor_new", out var export) ? export : 0;
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
