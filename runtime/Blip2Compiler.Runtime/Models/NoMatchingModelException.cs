namespace Blip2Compiler.Models;

/// <summary>
/// No compiled model class matches a checkpoint's config.json (<see cref="CompiledConfig.FindMatch{T}"/>): names the
/// closest class, the fields it differs in, and how to compile one for the checkpoint.
/// </summary>
public sealed class NoMatchingModelException(string configPath, string closest, IReadOnlyList<string> differences, IReadOnlyList<string> compiled)
    : Blip2Exception(
        $"{configPath}: no model compiled into this tool matches it; the closest, {closest}, differs in "
        + string.Join("; ", differences.Take(3)) + (differences.Count > 3 ? $" (and {differences.Count - 3} more)" : "") + ". "
        + $"Compiled in: {string.Join(", ", compiled)}. "
        + "To run another checkpoint, compile it yourself with the Blip2Compiler package: "
        + "[Blip2Model(\"config.json\")] public partial class MyModel; plus <AdditionalFiles Include=\"config.json\" /> (see README).")
{
    public string ConfigPath { get; } = configPath;
    /// <summary>The compiled class with the fewest differences.</summary>
    public string Closest { get; } = closest;
    /// <summary>Every field where the closest class differs ("text_config.hidden_size is 2048, compiled with 2560").</summary>
    public IReadOnlyList<string> Differences { get; } = differences;
    /// <summary>The names of the classes compared.</summary>
    public IReadOnlyList<string> Compiled { get; } = compiled;
}
