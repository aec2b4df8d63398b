using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints.Torch;

/// <summary>
/// A <c>torch.save(state_dict)</c> file (<c>pytorch_model.bin</c>, <c>*.pt</c>, <c>*.pth</c>) in torch's zip format
/// (torch ≥ 1.6, <c>torch/serialization.py</c> <c>_save</c>): a zip of uncompressed records under one folder,
/// <c>{folder}/data.pkl</c> the pickled dict whose tensors are persistent ids naming storages <c>{folder}/data/{key}</c>,
/// <c>{folder}/byteorder</c> (<c>little</c>; absent before torch 2.1, when it was always little-endian).
/// </summary>
/// <remarks>
/// Opening reads the zip directory and the pickle (<see cref="RestrictedUnpickler"/>: nothing is executed) and
/// validates every tensor against its storage record before any tensor is read; a tensor is then a byte range of
/// the file (storage offset × element size into its record), read with positioned reads straight into the caller's
/// tensor, as <see cref="SafetensorsFile"/> reads. A view that is not contiguous (a state dict may hold one: a
/// transposed or sliced parameter, saved with its whole storage) is read as its storage's span and copied out.
/// </remarks>
internal sealed class TorchPickleFile : ICheckpointFile
{
    /// <summary>data.pkl of a state dict is about 200 bytes per tensor; a bigger one than this is not a state dict.</summary>
    public const long MaxPickleBytes = 100_000_000;

    private readonly Dictionary<string, (TensorInfo Info, TensorRef Tensor, long StorageStart)> _tensors;
    private SafeFileHandle? _handle;

    private TorchPickleFile(string path, Dictionary<string, (TensorInfo, TensorRef, long)> tensors, SafeFileHandle handle)
    {
        Path = path;
        _tensors = tensors;
        _handle = handle;
    }

    public string Path { get; }

    public IReadOnlyCollection<string> Keys => _tensors.Keys;

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorInfo Info(string name) =>
        _tensors.TryGetValue(name, out var t) ? t.Info : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <summary>True for a file that starts as a zip does (a local file header); a torch.save file of torch &lt; 1.6
    /// starts with a pickle instead.</summary>
    public static bool IsZip(ReadOnlySpan<byte> start) => start.Length >= 4 && start[0] == 'P' && start[1] == 'K' && start[2] == 3 && start[3] == 4;

    public static TorchPickleFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("torch.save data is little-endian; this reader copies bytes as they are");
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "file not found");
        SafeFileHandle handle;
        try { handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointFormatException(path, "cannot be read: " + e.Message, e);
        }
        try
        {
            Span<byte> start = stackalloc byte[4];
            var read = RandomAccess.Read(handle, start, 0);
            if (!IsZip(start[..read]))
            {
                if (read > 0 && start[0] == 0x80)
                    throw new UnsupportedCheckpointFormatException(path, $"legacy PyTorch pickle ({System.IO.Path.GetFileName(path)}, torch.save of torch < 1.6)");
                throw new CheckpointFormatException(path, "is not a torch.save archive (it does not start as a zip file)");
            }
            var entries = ZipDirectory.Read(handle, path);
            return new TorchPickleFile(path, ReadTensors(handle, path, entries), handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            handle.Dispose();
            throw new CheckpointFormatException(path, "cannot be read: " + e.Message, e);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static Dictionary<string, (TensorInfo, TensorRef, long)> ReadTensors(SafeFileHandle handle, string path, IReadOnlyDictionary<string, ZipEntry> entries)
    {
        // torch names every record "{folder}/…" with one folder (the file's stem when it was saved, "archive" since 2.x).
        var pickles = entries.Keys.Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/') == n.Length - "/data.pkl".Length).ToList();
        if (pickles.Count != 1)
            throw new CheckpointFormatException(path, pickles.Count == 0
                ? "the archive has no {folder}/data.pkl record (not a torch.save file)"
                : $"the archive has {pickles.Count} data.pkl records ({string.Join(", ", pickles)})");
        var folder = pickles[0][..^"data.pkl".Length];

        if (entries.TryGetValue(folder + "byteorder", out var byteOrderEntry))
        {
            var order = System.Text.Encoding.ASCII.GetString(Record(handle, path, byteOrderEntry, 16)).Trim();
            if (order != "little")
                throw new CheckpointFormatException(path, $"byteorder is '{order}': only little-endian torch.save files are read");
        }

        var root = RestrictedUnpickler.Load(path, pickles[0], Record(handle, path, entries[pickles[0]], MaxPickleBytes));
        if (root is not PickleDict dict)
            throw new CheckpointFormatException(path, $"{pickles[0]} holds a {(root is null ? "None" : "value")} that is not a dict of tensors (a state dict)");

        var tensors = new Dictionary<string, (TensorInfo, TensorRef, long)>(StringComparer.Ordinal);
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name)
                throw new CheckpointFormatException(path, $"{pickles[0]}: a state dict key is not a string");
            if (value is not TensorRef tensor)
                throw new CheckpointFormatException(path, $"'{name}' is a {(value is PickleDict ? "dict" : "value")}, not a tensor " +
                    "(a training checkpoint's {\"model\": state_dict, …} is not a state dict: save the state dict itself)");
            tensors[name] = Validate(path, folder, name, tensor, entries);
        }
        return tensors;
    }

    /// <summary>The tensor's storage record exists, is stored uncompressed, holds exactly its storage's elements, and
    /// contains every element of the view.</summary>
    private static (TensorInfo, TensorRef, long) Validate(string path, string folder, string name, TensorRef tensor, IReadOnlyDictionary<string, ZipEntry> entries)
    {
        CheckpointFormatException Bad(string problem) => new(path, $"tensor '{name}': {problem}");
        var storage = tensor.Storage;
        var record = folder + "data/" + storage.Key;
        if (!entries.TryGetValue(record, out var entry)) throw Bad($"its storage record '{record}' is missing from the archive");
        if (entry.Method != ZipEntry.Stored) throw Bad($"its storage record '{record}' is compressed (zip method {entry.Method}); torch.save stores records uncompressed");
        var size = SafetensorsDTypes.ElementSize(storage.DType);
        long elements, storageBytes, last = 0;
        try
        {
            elements = checked(tensor.Shape.Aggregate(1L, (n, d) => n * d));
            storageBytes = checked(storage.ElementCount * size);
            for (var i = 0; i < tensor.Shape.Length; i++)
                if (tensor.Shape[i] > 0) last = checked(last + (tensor.Shape[i] - 1) * tensor.Stride[i]);
            last = checked(last + tensor.StorageOffset);
        }
        catch (OverflowException)
        {
            throw Bad($"shape {Shapes.Format(tensor.Shape)} is too large");
        }
        if (entry.Size != storageBytes)
            throw Bad($"its storage is {storage.ElementCount} × {storage.DType} = {storageBytes} bytes, but the record '{record}' holds {entry.Size}");
        if (elements > 0 && last >= storage.ElementCount)
            throw Bad($"{Shapes.Format(tensor.Shape)} with stride {Shapes.Format(tensor.Stride)} at offset {tensor.StorageOffset} reaches element {last} of a {storage.ElementCount}-element storage");
        var info = new TensorInfo(name, storage.DType, tensor.Shape, entry.DataOffset + tensor.StorageOffset * size, elements * size);
        return (info, tensor, entry.DataOffset);
    }

    /// <summary>A small record's bytes (data.pkl, byteorder), inflated if a re-zipped archive compressed it.</summary>
    private static byte[] Record(SafeFileHandle handle, string path, ZipEntry entry, long limit)
    {
        if (entry.Size > limit || entry.CompressedSize > limit)
            throw new CheckpointFormatException(path, $"'{entry.Name}' is {entry.Size} bytes (over the {limit}-byte limit: not a state dict's)");
        var stored = new byte[entry.CompressedSize];
        ZipDirectory.ReadExactly(handle, path, stored, entry.DataOffset, $"'{entry.Name}'");
        if (entry.Method == ZipEntry.Stored) return stored;
        if (entry.Method != ZipEntry.Deflated)
            throw new CheckpointFormatException(path, $"'{entry.Name}' is compressed with zip method {entry.Method} (only stored and deflated records are read)");
        try
        {
            using var inflate = new DeflateStream(new MemoryStream(stored), CompressionMode.Decompress);
            var data = new byte[entry.Size];
            inflate.ReadExactly(data);
            return data;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new CheckpointFormatException(path, $"'{entry.Name}' does not inflate: {e.Message}", e);
        }
    }

    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_handle is null, this);
        var info = Info(name);
        var host = torch.empty(info.Shape, dtype ?? info.DType, torch.CPU);
        try
        {
            ReadInto(info, host, new byte[SafetensorsFile.DefaultScratchBytes]);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        var target = device ?? torch.CPU;
        return target.type == DeviceType.CPU ? host : host.to(target, disposeAfter: true);
    }

    /// <summary>Views may be strided or share a storage, so a pickled tensor is read whole (the loader then quantizes
    /// the loaded float tensor).</summary>
    public bool CanReadElements(TensorInfo info, ScalarType to) => false;

    public void ReadElements(TensorInfo info, long firstElement, Span<byte> destination, ScalarType to, byte[] scratch) =>
        throw new NotSupportedException($"{Path}: '{info.Name}' is read whole (torch.save files)");

    /// <summary>A contiguous tensor is one byte range of its stored (uncompressed) zip entry, mapped as a safetensors
    /// tensor is; a strided view is not.</summary>
    public Tensor? TryMap(TensorInfo info) =>
        IsContiguous(_tensors[info.Name].Tensor)
            ? MappedTensor.TryMap(_handle ?? throw new ObjectDisposedException(nameof(TorchPickleFile)), Path, info)
            : null;

    public void ReadInto(TensorInfo info, Tensor destination, byte[] scratch)
    {
        var handle = _handle ?? throw new ObjectDisposedException(nameof(TorchPickleFile));
        if (destination.NumberOfElements != info.ElementCount)
            throw new ArgumentException($"'{info.Name}' has {info.ElementCount} elements, the destination {destination.NumberOfElements}", nameof(destination));
        var (_, tensor, storageStart) = _tensors[info.Name];
        if (IsContiguous(tensor))
        {
            PositionedTensorRead.Into(handle, Path, info, destination, scratch);
            return;
        }
        // The view's span of its storage, read as is, then copied out through the strides (libtorch converts the dtype).
        var size = SafetensorsDTypes.ElementSize(info.DType);
        long last = 0;
        for (var i = 0; i < tensor.Shape.Length; i++) last += (tensor.Shape[i] - 1) * tensor.Stride[i];
        var span = new TensorInfo(info.Name, info.DType, [last + 1], storageStart + tensor.StorageOffset * size, (last + 1) * size);
        using var staged = torch.empty(span.Shape, info.DType, torch.CPU);
        PositionedTensorRead.Into(handle, Path, span, staged, scratch);
        using var view = staged.as_strided(tensor.Shape, tensor.Stride, 0);
        using var shaped = destination.view(tensor.Shape);
        shaped.copy_(view);
    }

    /// <summary>Row-major strides, ignoring dimensions of size 1 (whose stride is never used), as torch's
    /// <c>is_contiguous</c>; an empty tensor is contiguous.</summary>
    private static bool IsContiguous(TensorRef tensor)
    {
        if (tensor.Shape.Any(d => d == 0)) return true;
        long expected = 1;
        for (var i = tensor.Shape.Length - 1; i >= 0; i--)
        {
            if (tensor.Shape[i] != 1 && tensor.Stride[i] != expected) return false;
            expected *= tensor.Shape[i];
        }
        return true;
    }

    public void DropCached(long offset, long length)
    {
        if (_handle is { } handle) FileCache.Drop(handle, offset, length);
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}
