using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blip2.Cli.Output;

/// <summary>--json output: one indented JSON document on stdout; --jsonl: one compact object per line, flushed. Snake_case names.</summary>
internal static class JsonOutput
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly JsonSerializerOptions LineOptions = new(Options) { WriteIndented = false };

    public static void Write<T>(TextWriter writer, T value) => writer.WriteLine(JsonSerializer.Serialize(value, Options));

    /// <summary>One line, flushed at once: an interrupted run keeps every line it wrote.</summary>
    public static void WriteLine<T>(TextWriter writer, T value)
    {
        writer.WriteLine(JsonSerializer.Serialize(value, LineOptions));
        writer.Flush();
    }
}
