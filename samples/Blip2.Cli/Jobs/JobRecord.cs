using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blip2.Cli.Jobs;

/// <summary>
/// One output record: an input's key, source and position there, the model, and its caption or embedding (a fixed-size
/// float list: the retriever's width), or the error it failed with. Snake_case JSON, nulls left out.
/// </summary>
internal sealed record JobRecord(string Key, string Source, long Index, string Model, string? Caption = null, float[]? Embedding = null, string? Error = null)
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJsonLine() => JsonSerializer.Serialize(this, Options);

    public static JobRecord FromJsonLine(string line) =>
        JsonSerializer.Deserialize<JobRecord>(line, Options) ?? throw new JsonException("a null record");
}
