namespace Blip2Compiler.Checkpoints;

/// <summary>How a parameter is built from checkpoint keys.</summary>
public enum SourceKind
{
    /// <summary>One key, as is.</summary>
    Copy,

    /// <summary>Several keys concatenated on dim 0 (e.g. q/k/v weights fused into one projection).</summary>
    Concat,

    /// <summary>Keys <c>[q_bias, v_bias]</c> → <c>cat(q_bias, zeros_like(v_bias), v_bias)</c>: the legacy BLIP-2 vision
    /// attention stores no key bias.</summary>
    QkvBias,
}

/// <summary>One way to obtain a parameter from checkpoint keys.</summary>
public sealed record ParamSource(SourceKind Kind, params string[] Keys)
{
    /// <summary>
    /// A factor per key that its tensor is multiplied by at load, or null (all 1): a constant the compiler folded
    /// into the weights (T5's unscaled attention: the query projection pre-multiplied by √d_kv, so attention runs
    /// with its default 1/√d_kv scale and needs no multiply of its own).
    /// </summary>
    public IReadOnlyList<double>? Scales { get; init; }

    public override string ToString() => Kind switch
    {
        SourceKind.Copy => Keys[0],
        SourceKind.Concat => "cat(" + string.Join(", ", Keys) + ")",
        _ => "qkv_bias(" + string.Join(", ", Keys) + ")",
    };
}

/// <summary>
/// A model parameter, its shape, and the sources that can fill it, tried in order: the first whose keys all exist
/// is used (e.g. a fused <c>qkv.bias</c>, else legacy <c>q_bias</c> + <c>v_bias</c>). <see cref="KeepFloat32"/>
/// parameters stay float32 when the model runs in half precision.
/// </summary>
public sealed record KeyMapEntry(string Parameter, long[] Shape, IReadOnlyList<ParamSource> Alternatives, bool KeepFloat32 = false);

/// <summary>
/// What the source generator emits for a model: every parameter with its checkpoint sources, and the checkpoint keys
/// that may be present but are deliberately unused (a tied <c>lm_head.weight</c>, <c>position_ids</c> buffers):
/// exact names, or a prefix followed by <c>*</c>.
/// </summary>
public sealed class KeyMap
{
    public KeyMap(IReadOnlyList<KeyMapEntry> entries, IReadOnlyList<string> ignoredKeys)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (!seen.Add(entry.Parameter))
                throw new ArgumentException($"parameter '{entry.Parameter}' appears twice in the key map", nameof(entries));
            if (entry.Alternatives.Count == 0)
                throw new ArgumentException($"parameter '{entry.Parameter}' has no source", nameof(entries));
            foreach (var source in entry.Alternatives)
            {
                var ok = source.Kind switch
                {
                    SourceKind.Copy => source.Keys.Length == 1,
                    SourceKind.Concat => source.Keys.Length >= 1,
                    SourceKind.QkvBias => source.Keys.Length == 2,
                    _ => false,
                };
                if (source.Scales is { } scales && (scales.Count != source.Keys.Length || source.Kind == SourceKind.QkvBias || scales.Any(s => !double.IsFinite(s) || s == 0)))
                    throw new ArgumentException($"parameter '{entry.Parameter}': scales must be finite, non-zero, one per key, and not on a q/v bias source", nameof(entries));
                if (!ok)
                    throw new ArgumentException($"parameter '{entry.Parameter}': {source.Kind} cannot take {source.Keys.Length} keys", nameof(entries));
            }
        }
        Entries = entries;
        IgnoredKeys = ignoredKeys;
    }

    public IReadOnlyList<KeyMapEntry> Entries { get; }

    public IReadOnlyList<string> IgnoredKeys { get; }

    public bool IsIgnored(string key) => IgnoredKeys.Any(pattern => pattern.EndsWith('*')
        ? key.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal)
        : key == pattern);
}
