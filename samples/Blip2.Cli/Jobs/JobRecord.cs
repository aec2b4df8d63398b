using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blip2.Cli.Jobs;

/// <summary>
/// One output record: an input's key, source and position there, what the source says about it (<see cref="Text"/>,
/// <see cref="Metadata"/>), the model, and its caption or embedding (a fixed-size float list: the retriever's width),
/// or the error it failed with, and a note on what its reader left out. Snake_case JSON, nulls left out; the metadata
/// is the source's JSON value itself (an object for img2dataset), written on the record's one line. The source's
/// fields come after the result's (key, source, index, model, caption or embedding, error, then text, metadata,
/// note), so records without them read as before.
/// </summary>
internal sealed record JobRecord(string Key, string Source, long Index, string Model, string? Caption = null, float[]? Embedding = null, string? Error = null)
{
    /// <summary>The sample's <see cref="JobSample.Text"/>.</summary>
    [JsonPropertyOrder(1)] public string? Text { get; init; }

    /// <summary>The sample's <see cref="JobSample.Metadata"/>.</summary>
    [JsonPropertyOrder(1)] public JsonElement? Metadata { get; init; }

    /// <summary>The sample's <see cref="JobSample.Note"/>.</summary>
    [JsonPropertyOrder(1)] public string? Note { get; init; }

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Captions and source texts in any language stay readable (only what JSON itself needs is escaped).
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>A sample's record before the model's result: its key, source, index and what the source says about it.</summary>
    public static JobRecord For(JobSample sample, string model) =>
        new(sample.Key, sample.Source, sample.Index, model) { Text = sample.Text, Metadata = sample.Metadata, Note = sample.Note };

    public string ToJsonLine() => JsonSerializer.Serialize(this, Options);

    public static JobRecord FromJsonLine(string line) =>
        JsonSerializer.Deserialize<JobRecord>(line, Options) ?? throw new JsonException("a null record");
}
