using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>A parameter none of whose sources the checkpoint has.</summary>
public sealed record MissingParameter(string Parameter, IReadOnlyList<ParamSource> Tried)
{
    public override string ToString() => $"{Parameter} (tried {string.Join(" | ", Tried)})";
}

/// <summary>A parameter whose source, after its transform, has the wrong shape (<see cref="Found"/> is null when the
/// source keys cannot even be combined).</summary>
public sealed record ShapeMismatch(string Parameter, ParamSource Source, long[] Expected, long[]? Found, IReadOnlyList<TensorInfo> Keys)
{
    public override string ToString() =>
        $"{Parameter}: expected {Shapes.Format(Expected)}, found {(Found is null ? "incompatible" : Shapes.Format(Found))} from " +
        string.Join(" + ", Keys.Select(k => $"{k.Name} {k.ShapeText}"));
}

/// <summary>A checkpoint tensor whose dtype cannot become a floating-point parameter.</summary>
public sealed record UnsupportedSource(string Parameter, string Key, ScalarType DType)
{
    public override string ToString() => $"{Key} is {DType} (for {Parameter})";
}

/// <summary>How a checkpoint matched a key map: which parameter came from which source, and every disagreement.</summary>
public sealed class LoadReport
{
    internal LoadReport(IReadOnlyDictionary<string, ParamSource> used, IReadOnlyList<MissingParameter> missing,
        IReadOnlyList<string> unexpected, IReadOnlyList<ShapeMismatch> misShaped,
        IReadOnlyList<UnsupportedSource> unsupportedDTypes, IReadOnlyList<string> ignored)
    {
        Used = used;
        Missing = missing;
        Unexpected = unexpected;
        MisShaped = misShaped;
        UnsupportedDTypes = unsupportedDTypes;
        Ignored = ignored;
    }

    public static LoadReport Empty { get; } = new(new Dictionary<string, ParamSource>(), [], [], [], [], []);

    /// <summary>Parameter → the source it was loaded from.</summary>
    public IReadOnlyDictionary<string, ParamSource> Used { get; }

    public IReadOnlyList<MissingParameter> Missing { get; }

    /// <summary>Checkpoint keys neither used nor ignored.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    public IReadOnlyList<ShapeMismatch> MisShaped { get; }

    public IReadOnlyList<UnsupportedSource> UnsupportedDTypes { get; }

    /// <summary>Checkpoint keys present and unused by design (the key map's ignored keys).</summary>
    public IReadOnlyList<string> Ignored { get; }

    public bool IsLoadable(bool strict) =>
        Missing.Count == 0 && MisShaped.Count == 0 && UnsupportedDTypes.Count == 0 && (!strict || Unexpected.Count == 0);

    /// <summary>
    /// One clause per kind of problem: its count, and at most <see cref="NamedPerKind"/> of its keys — in full detail
    /// (what was tried, the shapes) when that is all of them, by name alone otherwise, then "and N more". A wrong
    /// checkpoint has hundreds of missing and unexpected keys; naming five of each in full made a ~2,500-character
    /// line. The full lists stay on the report (<see cref="Missing"/>, <see cref="Unexpected"/>, …).
    /// </summary>
    public string Describe(bool strict)
    {
        var parts = new List<string>();
        Add(parts, Missing, "missing parameter", m => m.Parameter);
        if (strict) Add(parts, Unexpected, "unexpected checkpoint key", k => k);
        Add(parts, MisShaped, "mis-shaped parameter", m => m.Parameter);
        Add(parts, UnsupportedDTypes, "unsupported dtype", u => u.Key);
        return string.Join("; ", parts);
    }

    /// <summary>Keys named per kind of problem in <see cref="Describe"/>.</summary>
    public const int NamedPerKind = 3;

    private static void Add<T>(List<string> parts, IReadOnlyList<T> items, string what, Func<T, string> name)
    {
        if (items.Count == 0) return;
        var named = items.Count <= NamedPerKind
            ? string.Join(", ", items)
            : string.Join(", ", items.Take(NamedPerKind).Select(name)) + $" and {items.Count - NamedPerKind} more";
        parts.Add($"{items.Count} {what}{(items.Count == 1 ? "" : "s")}: {named}");
    }
}
