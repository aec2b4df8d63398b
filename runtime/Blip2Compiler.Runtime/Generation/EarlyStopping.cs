namespace Blip2Compiler.Generation;

/// <summary>
/// Hugging Face's <c>early_stopping</c> (<c>Union[bool, str]</c>) for beam search: <c>true</c> stops a batch item as
/// soon as it has <c>num_beams</c> finished hypotheses; <c>false</c> stops when a heuristic says no running beam can
/// still beat them; <c>"never"</c> stops only when that is certain (the canonical beam search).
/// </summary>
public readonly record struct EarlyStopping
{
    private readonly byte _mode; // 0 false, 1 true, 2 never

    private EarlyStopping(byte mode) => _mode = mode;

    public static EarlyStopping False { get; } = new(0);
    public static EarlyStopping True { get; } = new(1);
    public static EarlyStopping Never { get; } = new(2);

    public bool IsTrue => _mode == 1;
    public bool IsNever => _mode == 2;

    public static implicit operator EarlyStopping(bool value) => value ? True : False;

    /// <summary>Parses "true", "false" or "never" (case-insensitive), as generation_config.json may hold them.</summary>
    public static EarlyStopping Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "true" => True,
        "false" => False,
        "never" => Never,
        _ => throw new InvalidGenerationOptionException("early_stopping", text, "expected true, false or \"never\""),
    };

    public override string ToString() => _mode switch { 1 => "true", 2 => "never", _ => "false" };
}
