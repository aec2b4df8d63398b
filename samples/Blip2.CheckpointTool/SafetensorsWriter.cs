using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Blip2.CheckpointTool;

/// <summary>
/// The safetensors format, float32 only: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data. Tensors are written in key order.
/// </summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyList<(StoredTensor Tensor, float[] Values)> tensors)
    {
        var ordered = tensors.OrderBy(t => t.Tensor.Key, StringComparer.Ordinal).ToList();
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (var (tensor, values) in ordered)
            {
                json.WriteStartObject(tensor.Key);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += values.LongLength * sizeof(float));
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        file.Write(length);
        header.Position = 0;
        header.CopyTo(file);
        var buffer = new byte[4];
        foreach (var (_, values) in ordered)
            foreach (var v in values)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer, v);
                file.Write(buffer);
            }
    }
}
