using Blip2Compiler.Checkpoints;

namespace Blip2.CheckpointTool;

/// <summary>A tensor as a published checkpoint stores it.</summary>
public sealed record StoredTensor(string Key, long[] Shape);

/// <summary>
/// The keys and shapes a Hugging Face checkpoint has for a compiled model: the first source of each key-map entry,
/// with fused projections split back into their equal parts (q/k/v, key/value, wi_0/wi_1).
/// </summary>
public static class CheckpointLayout
{
    public static IReadOnlyList<StoredTensor> FromKeyMap(KeyMap map)
    {
        var tensors = new List<StoredTensor>();
        foreach (var entry in map.Entries)
        {
            var source = entry.Alternatives[0];
            switch (source.Kind)
            {
                case SourceKind.Copy:
                    tensors.Add(new StoredTensor(source.Keys[0], entry.Shape));
                    break;
                case SourceKind.Concat:
                    tensors.AddRange(Split(entry, source.Keys, source.Keys.Select(_ => 1L).ToArray()));
                    break;
                case SourceKind.QkvBias:
                    // q_bias and v_bias, each a third of the fused bias (the key bias is zero).
                    tensors.AddRange(Split(entry, source.Keys, [1, 1], parts: 3));
                    break;
            }
        }
        return tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
    }

    private static IEnumerable<StoredTensor> Split(KeyMapEntry entry, string[] keys, long[] weights, long? parts = null)
    {
        long total = parts ?? weights.Sum();
        if (entry.Shape[0] % total != 0)
            throw new InvalidOperationException($"{entry.Parameter}: dim 0 ({entry.Shape[0]}) does not split into {total} equal parts");
        long size = entry.Shape[0] / total;
        for (int i = 0; i < keys.Length; i++)
            yield return new StoredTensor(keys[i], [size * weights[i], .. entry.Shape[1..]]);
    }
}
