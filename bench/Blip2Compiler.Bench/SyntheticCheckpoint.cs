using System.Text.Json;
using Blip2Compiler.Checkpoints;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench;

/// <summary>
/// A float32 checkpoint in a config's published key layout, written tensor by tensor without holding it (opt-2.7b's
/// is 15 GB): for each parameter the source with the most keys (the published layout: separate q/k/v, q_bias and
/// v_bias), fused rows split evenly between its keys. The values are normal(0, 0.02) from a 16 MiB block written at a
/// different offset for each tensor, so no two tensors are equal and nothing is all zeros.
/// </summary>
public static class SyntheticCheckpoint
{
    private const int BlockFloats = 4 << 20;

    /// <summary>The tensors the checkpoint holds, with their shapes.</summary>
    public static List<(string Key, long[] Shape)> Layout(KeyMap map)
    {
        var tensors = new List<(string, long[])>();
        foreach (var entry in map.Entries)
        {
            var source = entry.Alternatives.MaxBy(s => s.Keys.Length)!;
            var parts = source.Kind == SourceKind.QkvBias ? 3 : source.Keys.Length;
            if (entry.Shape.Length == 0 || entry.Shape[0] % parts != 0)
            {
                if (parts != 1) throw new InvalidOperationException($"{entry.Parameter} {string.Join('x', entry.Shape)} does not split into {parts}");
                tensors.Add((source.Keys[0], entry.Shape));
                continue;
            }
            long[] part = [entry.Shape[0] / parts, .. entry.Shape[1..]];
            foreach (var key in source.Keys) tensors.Add((key, part));
        }
        return tensors;
    }

    public static long Bytes(KeyMap map) => Layout(map).Sum(t => t.Shape.Aggregate(4L, (n, d) => n * d));

    /// <summary>Writes the checkpoint into <paramref name="directory"/> with <paramref name="configJson"/>: one
    /// <c>model.safetensors</c>, or shards of at most <paramref name="maxShardBytes"/> with their index.</summary>
    public static void Write(string directory, KeyMap map, string configJson, long? maxShardBytes)
    {
        System.IO.Directory.CreateDirectory(directory);
        File.Copy(configJson, Path.Combine(directory, "config.json"), overwrite: true);
        var block = RandomBlock();
        var tensors = Layout(map).Select((t, i) => new StreamedTensor(t.Key, ScalarType.Float32, t.Shape,
            stream => WriteFrom(block, (int)((long)i * 7919 * 64 % block.Length), t.Shape.Aggregate(4L, (n, d) => n * d), stream))).ToList();
        if (maxShardBytes is { } shard) SafetensorsWriter.WriteSharded(directory, tensors, shard);
        else SafetensorsWriter.Write(Path.Combine(directory, Checkpoint.SingleFileName), tensors);
        // On disk before anything is timed, as a checkpoint downloaded earlier is: the last ~2 GB of a 15 GB write are
        // still dirty when it returns, and their writeback would run beside the first loads (and the loader's drop of
        // the page cache cannot drop a dirty page: it starts its writeback instead).
        foreach (var file in DataFiles(directory))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>The files the loader reads (the safetensors files), for timing <c>cat</c> on them.</summary>
    public static List<string> DataFiles(string directory) =>
        System.IO.Directory.GetFiles(directory, "*.safetensors").Order(StringComparer.Ordinal).ToList();

    private static byte[] RandomBlock()
    {
        using var values = normal(0, 0.02, [BlockFloats], generator: new TorchSharp.torch.Generator(18));
        return values.bytes.ToArray();
    }

    private static void WriteFrom(byte[] block, int start, long bytes, Stream stream)
    {
        var position = start;
        while (bytes > 0)
        {
            var n = (int)Math.Min(bytes, block.Length - position);
            stream.Write(block, position, n);
            bytes -= n;
            position = 0;
        }
    }
}
