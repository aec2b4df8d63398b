using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>Writes safetensors files and sharded checkpoints the way Hugging Face's <c>save_pretrained</c> does.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        // Like the reference writer: widest elements first, so every tensor's data stays aligned to its element size.
        var ordered = tensors.OrderByDescending(t => SafetensorsDTypes.ElementSize(t.Value.dtype))
            .ThenBy(t => t.Key, StringComparer.Ordinal).ToList();

        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata ?? new Dictionary<string, string> { ["format"] = "pt" })
                json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, tensor) in ordered)
            {
                var bytes = tensor.NumberOfElements * tensor.ElementSize;
                json.WriteStartObject(name);
                json.WriteString("dtype", SafetensorsDTypes.Name(tensor.dtype));
                json.WriteStartArray("shape");
                foreach (var d in tensor.shape) json.WriteNumberValue(d);
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
        foreach (var (_, tensor) in ordered)
        {
            // The scope releases the contiguous CPU copy (never the caller's tensor, created outside it).
            using var scope = torch.NewDisposeScope();
            TensorBytes.CopyTo(tensor.detach().cpu().contiguous(), file);
        }
    }

    /// <summary>
    /// Splits <paramref name="tensors"/> (in their order) into shards of at most <paramref name="maxShardBytes"/>
    /// (a bigger tensor gets a shard of its own) named <c>model-0000i-of-0000n.safetensors</c>, with
    /// <c>model.safetensors.index.json</c>. A single shard is written as plain <c>model.safetensors</c>, as the
    /// reference does.
    /// </summary>
    public static void WriteSharded(string directory, IReadOnlyDictionary<string, Tensor> tensors, long maxShardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        Directory.CreateDirectory(directory);

        var shards = new List<Dictionary<string, Tensor>> { new() };
        long current = 0, total = 0;
        foreach (var (name, tensor) in tensors)
        {
            var bytes = tensor.NumberOfElements * tensor.ElementSize;
            if (current + bytes > maxShardBytes && shards[^1].Count > 0)
            {
                shards.Add(new());
                current = 0;
            }
            shards[^1][name] = tensor;
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
            foreach (var name in shards[i].Keys) weightMap[name] = file;
        }
        var index = new { metadata = new { total_size = total }, weight_map = weightMap };
        File.WriteAllText(Path.Combine(directory, Checkpoint.IndexFileName),
            JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
