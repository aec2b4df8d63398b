using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// One safetensors file: <c>u64 header length | JSON header | raw little-endian tensor bytes</c>. Written here rather
/// than taken from a package because the format is a few lines, and we need what generic readers do not give together:
/// strict validation of every header entry before anything is read, tensors read straight into their destination
/// (positioned reads: nothing of the file stays resident in the process after a tensor is read, and a file truncated
/// under a reader is an error, not a SIGBUS) or mapped one by one when asked (<see cref="MappedTensor"/>: no
/// whole-file mapping), and errors that name the file and the entry.
/// </summary>
public sealed class SafetensorsFile : ICheckpointFile
{
    /// <summary>The reference implementation refuses headers above 100 MB; a bigger length means a corrupt file.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Source bytes converted per step when the file's dtype is not the destination's: 1 MiB stays in L2, and
    /// one positioned read per MiB costs about 1 % of the copy it triggers.</summary>
    internal const int DefaultScratchBytes = 1 << 20;

    private readonly Dictionary<string, TensorInfo> _tensors;
    private SafeFileHandle? _handle;

    private SafetensorsFile(string path, Dictionary<string, TensorInfo> tensors, Dictionary<string, string> metadata, SafeFileHandle handle)
    {
        Path = path;
        _tensors = tensors;
        Metadata = metadata;
        _handle = handle;
    }

    public string Path { get; }

    /// <summary>The header's optional <c>__metadata__</c> (e.g. <c>format: pt</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IReadOnlyCollection<string> Keys => _tensors.Keys;

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorInfo Info(string name) =>
        _tensors.TryGetValue(name, out var info) ? info : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    public static SafetensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this reader copies bytes as they are");
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "file not found");

        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointFormatException(path, "cannot be read: " + e.Message, e);
        }
        try
        {
            var length = RandomAccess.GetLength(handle);
            if (length < 8)
                throw new CheckpointFormatException(path, $"file is {length} bytes; a safetensors file starts with an 8-byte header length (truncated?)");
            Span<byte> prefix = stackalloc byte[8];
            ReadExactly(handle, path, prefix, 0);
            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > MaxHeaderBytes)
                throw new CheckpointFormatException(path, $"header length {headerLength} exceeds the {MaxHeaderBytes / 1_000_000} MB limit (not a safetensors file, or corrupt)");
            if ((long)headerLength > length - 8)
                throw new CheckpointFormatException(path, $"header length {headerLength} runs past the end of the {length}-byte file (truncated?)");

            var header = new byte[headerLength];
            ReadExactly(handle, path, header, 8);
            var dataStart = 8 + (long)headerLength;
            var (tensors, metadata) = ParseHeader(path, header, dataStart, length - dataStart);
            return new SafetensorsFile(path, tensors, metadata, handle);
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

    /// <summary>
    /// Reads a tensor into a new CPU tensor (in <paramref name="dtype"/>, converted on the way) and moves it to
    /// <paramref name="device"/>: the file's bytes are never held in a second copy on the host.
    /// </summary>
    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_handle is null, this);
        var info = Info(name);
        var host = torch.empty(info.Shape, dtype ?? info.DType, torch.CPU);
        try
        {
            ReadInto(info, host, new byte[DefaultScratchBytes]);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        var targetDevice = device ?? torch.CPU;
        return targetDevice.type == DeviceType.CPU ? host : host.to(targetDevice, disposeAfter: true);
    }

    /// <summary>
    /// Fills <paramref name="destination"/> (a contiguous CPU tensor, or a contiguous slice of one, with the tensor's
    /// element count) from the file. Same dtype: read straight into its memory. A float conversion
    /// <see cref="FloatConversion"/> covers: read through <paramref name="scratch"/> a chunk at a time and convert
    /// into place. Anything else: read into a staging tensor of the file's dtype, then libtorch's copy converts.
    /// Thread-safe: reads are positioned (pread), and each caller brings its own scratch.
    /// </summary>
    internal void ReadInto(TensorInfo info, Tensor destination, byte[] scratch, long sliceBytes = TensorBytes.DefaultChunkBytes)
    {
        var handle = _handle ?? throw new ObjectDisposedException(nameof(SafetensorsFile));
        if (destination.NumberOfElements != info.ElementCount)
            throw new ArgumentException($"'{info.Name}' has {info.ElementCount} elements, the destination {destination.NumberOfElements}", nameof(destination));
        PositionedTensorRead.Into(handle, Path, info, destination, scratch, sliceBytes);
    }

    void ICheckpointFile.ReadInto(TensorInfo info, Tensor destination, byte[] scratch) => ReadInto(info, destination, scratch);
    Tensor? ICheckpointFile.TryMap(TensorInfo info) =>
        MappedTensor.TryMap(_handle ?? throw new ObjectDisposedException(nameof(SafetensorsFile)), Path, info);
    bool ICheckpointFile.CanReadElements(TensorInfo info, ScalarType to) => CanReadElements(info, to);
    void ICheckpointFile.ReadElements(TensorInfo info, long firstElement, Span<byte> destination, ScalarType to, byte[] scratch) =>
        ReadElements(info, firstElement, destination, to, scratch);

    void ICheckpointFile.DropCached(long offset, long length)
    {
        if (_handle is { } handle) FileCache.Drop(handle, offset, length);
    }

    /// <summary>Can <see cref="ReadElements"/> deliver this tensor in <paramref name="to"/>?</summary>
    internal bool CanReadElements(TensorInfo info, ScalarType to) => info.DType == to || FloatConversion.Supports(info.DType, to);

    /// <summary>
    /// Fills <paramref name="destination"/> with the tensor's elements from <paramref name="firstElement"/> on, as
    /// many as it holds of <paramref name="to"/> (the file's dtype, or one <see cref="FloatConversion"/> converts to,
    /// through <paramref name="scratch"/>): a part of a tensor, for consumers that take it a few rows at a time.
    /// </summary>
    internal void ReadElements(TensorInfo info, long firstElement, Span<byte> destination, ScalarType to, byte[] scratch)
    {
        var handle = _handle ?? throw new ObjectDisposedException(nameof(SafetensorsFile));
        var outSize = SafetensorsDTypes.ElementSize(to);
        var count = destination.Length / outSize;
        if (destination.Length % outSize != 0 || firstElement < 0 || firstElement + count > info.ElementCount)
            throw new ArgumentOutOfRangeException(nameof(firstElement), $"elements [{firstElement}, {firstElement + count}) of '{info.Name}' ({info.ElementCount})");
        if (info.DType == to) PositionedTensorRead.Read(handle, Path, info, firstElement * outSize, destination);
        else PositionedTensorRead.ReadConverted(handle, Path, info, firstElement, destination, to, scratch);
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }

    private static void ReadExactly(SafeFileHandle handle, string path, Span<byte> destination, long position)
    {
        while (!destination.IsEmpty)
        {
            var read = RandomAccess.Read(handle, destination, position);
            if (read == 0) throw new CheckpointFormatException(path, $"file ends at byte {position} while reading its header (truncated?)");
            destination = destination[read..];
            position += read;
        }
    }

    private static (Dictionary<string, TensorInfo>, Dictionary<string, string>) ParseHeader(
        string path, byte[] header, long dataStart, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonFiles.ParseStrict(header);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, "header is not valid JSON: " + e.Message, e);
        }
        using (document) return ReadEntries(path, document.RootElement, dataStart, dataLength);
    }

    private static (Dictionary<string, TensorInfo>, Dictionary<string, string>) ReadEntries(
        string path, JsonElement root, long dataStart, long dataLength)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, "header is not a JSON object");

        var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                ParseMetadata(path, property.Value, metadata);
                continue;
            }
            var info = ParseEntry(path, property.Name, property.Value, dataStart, dataLength);
            if (!tensors.TryAdd(info.Name, info))
                throw new CheckpointFormatException(path, $"tensor '{info.Name}' appears twice in the header");
        }
        CheckNoOverlap(path, tensors.Values, dataStart);
        return (tensors, metadata);
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, "__metadata__ is not a JSON object");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointFormatException(path, $"__metadata__ value '{item.Name}' is not a string");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static TensorInfo ParseEntry(string path, string name, JsonElement entry, long dataStart, long dataLength)
    {
        CheckpointFormatException Bad(string problem) => new(path, $"tensor '{name}': {problem}");

        if (entry.ValueKind != JsonValueKind.Object) throw Bad("entry is not a JSON object");
        if (!entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad("missing string 'dtype'");
        var dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
            throw Bad($"dtype '{dtypeName}' is not supported (supported: {SafetensorsDTypes.Supported})");

        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad("missing array 'shape'");
        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var d) || d < 0)
                throw Bad($"shape {shapeElement.GetRawText()} is not a list of non-negative integers");
            shape[i++] = d;
        }

        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out var begin) || !offsets[1].TryGetInt64(out var end))
            throw Bad("'data_offsets' is not a pair of integers");
        if (begin < 0 || end < begin)
            throw Bad($"data_offsets [{begin}, {end}] are not an ascending pair of non-negative offsets");
        if (end > dataLength)
            throw Bad($"data_offsets [{begin}, {end}] run past the end of the data ({dataLength} bytes; truncated file?)");

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (n, d) => n * d) * SafetensorsDTypes.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw Bad($"shape {Shapes.Format(shape)} is too large");
        }
        if (end - begin != expected)
            throw Bad($"{dtypeName} {Shapes.Format(shape)} needs {expected} bytes but data_offsets [{begin}, {end}] hold {end - begin}");

        return new TensorInfo(name, dtype, shape, dataStart + begin, end - begin);
    }

    private static void CheckNoOverlap(string path, IEnumerable<TensorInfo> tensors, long dataStart)
    {
        TensorInfo? previous = null;
        foreach (var t in tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.DataOffset))
        {
            if (previous is not null && t.DataOffset < previous.DataOffset + previous.ByteLength)
                throw new CheckpointFormatException(path,
                    $"tensors '{previous.Name}' [{previous.DataOffset - dataStart}, {previous.DataOffset - dataStart + previous.ByteLength}] " +
                    $"and '{t.Name}' [{t.DataOffset - dataStart}, {t.DataOffset - dataStart + t.ByteLength}] overlap");
            previous = t;
        }
    }
}
