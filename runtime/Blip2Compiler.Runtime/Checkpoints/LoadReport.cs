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

    /// <summary>One line per kind of problem, naming the first few keys and the count.</summary>
    public string Describe(bool strict)
    {
        var parts = new List<string>();
        Add(parts, Missing, "missing parameter");
        if (strict) Add(parts, Unexpected, "unexpected checkpoint key");
        Add(parts, MisShaped, "mis-shaped parameter");
        Add(parts, UnsupportedDTypes, "unsupported dtype");
        return string.Join("; ", parts);
    }

    private static void Add<T>(List<string> parts, IReadOnlyList<T> items, string what)
    {
        const int shown = 5;
        if (items.Count == 0) return;
        var list = string.Join(", ", items.Take(shown));
        var more = items.Count > shown ? $", and {items.Count - shown} more" : "";
        parts.Add($"{items.Count} {what}{(items.Count == 1 ? "" : "s")}: {list}{more}");
    }
}
