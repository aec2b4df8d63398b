using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// One memory-mapped safetensors file: <c>u64 header length | JSON header | raw little-endian tensor bytes</c>.
/// Written here rather than taken from a package because the format is a few lines, and we need what generic readers
/// do not give together: a memory map (no copy of the whole file), strict validation of every header entry before
/// anything is read, and errors that name the file and the entry.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The reference implementation refuses headers above 100 MB; a bigger length means a corrupt file.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly Dictionary<string, TensorInfo> _tensors;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private byte* _base;

    private SafetensorsFile(string path, Dictionary<string, TensorInfo> tensors, Dictionary<string, string> metadata,
        MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        _tensors = tensors;
        Metadata = metadata;
        _map = map;
        _view = view;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
        _base += view.PointerOffset;
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

        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        try
        {
            var length = stream.Length;
            if (length < 8)
                throw new CheckpointFormatException(path, $"file is {length} bytes; a safetensors file starts with an 8-byte header length (truncated?)");
            Span<byte> prefix = stackalloc byte[8];
            stream.ReadExactly(prefix);
            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > MaxHeaderBytes)
                throw new CheckpointFormatException(path, $"header length {headerLength} exceeds the {MaxHeaderBytes / 1_000_000} MB limit (not a safetensors file, or corrupt)");
            if ((long)headerLength > length - 8)
                throw new CheckpointFormatException(path, $"header length {headerLength} runs past the end of the {length}-byte file (truncated?)");

            var header = new byte[headerLength];
            stream.ReadExactly(header);
            var dataStart = 8 + (long)headerLength;
            var (tensors, metadata) = ParseHeader(path, header, dataStart, length - dataStart);

            var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            try
            {
                var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                return new SafetensorsFile(path, tensors, metadata, map, view);
            }
            catch
            {
                map.Dispose();
                throw;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stream.Dispose();
            throw new CheckpointFormatException(path, "cannot be read: " + e.Message, e);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates a tensor from the mapped bytes: one host copy in the file's dtype, converted and moved as asked, then
    /// released, so loading a checkpoint tensor by tensor never holds two copies of the weights.
    /// </summary>
    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_base is null, this);
        var info = Info(name);
        var host = torch.empty(info.Shape, info.DType, torch.CPU);
        try
        {
            TensorBytes.CopyFrom((nint)(_base + info.DataOffset), info.ByteLength, host);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        var targetType = dtype ?? info.DType;
        var targetDevice = device ?? torch.CPU;
        if (targetType == info.DType && targetDevice.type == DeviceType.CPU) return host;
        return host.to(targetType, targetDevice, disposeAfter: true);
    }

    public void Dispose()
    {
        if (_view is null) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _base = null;
        _view.Dispose();
        _map?.Dispose();
        _view = null;
        _map = null;
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
