namespace Blip2Compiler.Generation;

/// <summary>A generation option (from the caller or from a checkpoint's generation_config.json) has a value the engine cannot use.</summary>
public sealed class InvalidGenerationOptionException : Blip2Exception
{
    public InvalidGenerationOptionException(string option, object? value, string problem, string? source = null)
        : base($"{(source is null ? "" : source + ": ")}generation option `{option}` = {Format(value)}: {problem}")
    {
        Option = option;
        Value = value;
        SourceFile = source;
    }

    /// <summary>The option's Hugging Face name, e.g. <c>top_p</c>.</summary>
    public string Option { get; }

    public object? Value { get; }

    /// <summary>The file the value came from, when it came from one.</summary>
    public string? SourceFile { get; }

    private static string Format(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        IEnumerable<long> ids => "[" + string.Join(", ", ids) + "]",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "?",
    };
}
