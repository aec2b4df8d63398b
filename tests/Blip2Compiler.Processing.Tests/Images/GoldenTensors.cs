using System.Buffers.Binary;
using System.Text.Json;

namespace Blip2Compiler.Tests.Images;

/// <summary>
/// Just enough safetensors to read the image fixtures: an 8-byte little-endian header length, a JSON header of
/// name → {dtype, shape, data_offsets}, then raw little-endian data. Private to these tests; the runtime has its own.
/// </summary>
internal sealed class GoldenTensors
{
    private readonly byte[] _file;
    private readonly long _dataStart;
    private readonly Dictionary<string, (string Dtype, long[] Shape, long Begin, long End)> _entries = new();

    public GoldenTensors(string path)
    {
        _file = File.ReadAllBytes(path);
        var headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(_file);
        _dataStart = 8 + headerLength;
        using var header = JsonDocument.Parse(_file.AsMemory(8, (int)headerLength));
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            var offsets = entry.Value.GetProperty("data_offsets");
            _entries[entry.Name] = (
                entry.Value.GetProperty("dtype").GetString()!,
                entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
                offsets[0].GetInt64(),
                offsets[1].GetInt64());
        }
    }

    public IEnumerable<string> Names => _entries.Keys;

    public (float[] Data, long[] Shape) Float32(string name)
    {
        Assert.True(_entries.TryGetValue(name, out var entry), $"fixture tensor '{name}' missing");
        Assert.Equal("F32", entry.Dtype);
        var bytes = _file.AsSpan((int)(_dataStart + entry.Begin), (int)(entry.End - entry.Begin));
        var data = new float[bytes.Length / 4];
        for (var i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
        return (data, entry.Shape);
    }
}
