using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>Writes safetensors files and sharded checkpoints the way Hugging Face's <c>save_pretrained</c> does.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, Streamed(tensors), metadata);

    /// <summary>Writes tensors one at a time through their callbacks: memory stays at one tensor's (or none).</summary>
    public static void Write(string path, IReadOnlyList<StreamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        // Like the reference writer: widest elements first, so every tensor's data stays aligned to its element size.
        var ordered = tensors.OrderByDescending(t => SafetensorsDTypes.ElementSize(t.DType))
            .ThenBy(t => t.Name, StringComparer.Ordinal).ToList();

        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata ?? new Dictionary<string, string> { ["format"] = "pt" })
                json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var tensor in ordered)
            {
                var bytes = tensor.ByteLength;
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", SafetensorsDTypes.Name(tensor.DType));
                json.WriteStartArray("shape");
                foreach (var d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');

        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)buffer.Length);
        file.Write(prefix);
        buffer.Position = 0;
        buffer.CopyTo(file);
        foreach (var tensor in ordered)
        {
            var start = file.Position;
            tensor.WriteData(file);
            if (file.Position - start != tensor.ByteLength)
                throw new InvalidOperationException($"'{tensor.Name}' wrote {file.Position - start} bytes; its header entry says {tensor.ByteLength}");
        }
    }

    /// <summary>
    /// Splits <paramref name="tensors"/> (in their order) into shards of at most <paramref name="maxShardBytes"/>
    /// (a bigger tensor gets a shard of its own) named <c>model-0000i-of-0000n.safetensors</c>, with
    /// <c>model.safetensors.index.json</c>. A single shard is written as plain <c>model.safetensors</c>, as the
    /// reference does.
    /// </summary>
    public static void WriteSharded(string directory, IReadOnlyDictionary<string, Tensor> tensors, long maxShardBytes) =>
        WriteSharded(directory, Streamed(tensors), maxShardBytes);

    /// <inheritdoc cref="WriteSharded(string, IReadOnlyDictionary{string, Tensor}, long)"/>
    public static void WriteSharded(string directory, IReadOnlyList<StreamedTensor> tensors, long maxShardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        Directory.CreateDirectory(directory);

        var shards = new List<List<StreamedTensor>> { new() };
        long current = 0, total = 0;
        foreach (var tensor in tensors)
        {
            var bytes = tensor.ByteLength;
            if (current + bytes > maxShardBytes && shards[^1].Count > 0)
            {
                shards.Add(new());
                current = 0;
            }
            shards[^1].Add(tensor);
            current += bytes;
            total += bytes;
        }

        if (shards.Count == 1)
        {
            Write(Path.Combine(directory, Checkpoint.SingleFileName), shards[0]);
            return;
        }

        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < shards.Count; i++)
        {
            var file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Write(Path.Combine(directory, file), shards[i]);
            foreach (var tensor in shards[i]) weightMap[tensor.Name] = file;
        }
        var index = new { metadata = new { total_size = total }, weight_map = weightMap };
        File.WriteAllText(Path.Combine(directory, Checkpoint.IndexFileName),
            JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static List<StreamedTensor> Streamed(IReadOnlyDictionary<string, Tensor> tensors) =>
        tensors.Select(t => StreamedTensor.Of(t.Key, t.Value)).ToList();
}
