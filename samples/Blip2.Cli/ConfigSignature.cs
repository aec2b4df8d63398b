using System.Globalization;
using System.Text.Json;

namespace Blip2.Cli;

/// <summary>
/// What decides which compiled class can run a checkpoint: the architecture and the size fields of its
/// config.json, with Hugging Face's defaults filled in (published configs leave most of them out).
/// </summary>
internal sealed record ConfigSignature(string Architecture, IReadOnlyList<KeyValuePair<string, string>> Fields)
{
    // (path, Hugging Face default). Text fields only count for the models that have a language model.
    private static readonly (string Path, object? Default)[] Common =
    [
        ("num_query_tokens", 32),
        ("vision_config.hidden_size", 1408), ("vision_config.intermediate_size", 6144),
        ("vision_config.num_hidden_layers", 39), ("vision_config.num_attention_heads", 16),
        ("vision_config.image_size", 224), ("vision_config.patch_size", 14),
        ("qformer_config.hidden_size", 768), ("qformer_config.intermediate_size", 3072),
        ("qformer_config.num_hidden_layers", 12), ("qformer_config.num_attention_heads", 12),
        ("qformer_config.encoder_hidden_size", 1408),
    ];

    private static readonly (string Path, object? Default)[] Retrieval =
    [
        ("image_text_hidden_size", 256), ("qformer_config.vocab_size", 30522), ("qformer_config.max_position_embeddings", 512),
    ];

    private static readonly (string Path, object? Default)[] Opt =
    [
        ("image_token_index", null),
        ("text_config.vocab_size", 50272), ("text_config.hidden_size", 768), ("text_config.ffn_dim", 3072),
        ("text_config.num_hidden_layers", 12), ("text_config.num_attention_heads", 12), ("text_config.max_position_embeddings", 2048),
    ];

    private static readonly (string Path, object? Default)[] T5 =
    [
        ("image_token_index", null),
        ("text_config.vocab_size", 32128), ("text_config.d_model", 512), ("text_config.d_kv", 64), ("text_config.d_ff", 2048),
        ("text_config.num_layers", 6), ("text_config.num_decoder_layers", null), ("text_config.num_heads", 8),
    ];

    public static ConfigSignature Parse(string json)
    {
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        return From(doc.RootElement);
    }

    public static ConfigSignature From(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("the top level is not a JSON object");
        var architecture = Find(root, "architectures") is { ValueKind: JsonValueKind.Array } list && list.GetArrayLength() > 0
            ? list[0].GetString() ?? "" : "Blip2ForConditionalGeneration";
        IEnumerable<(string Path, object? Default)> paths = Common;
        if (architecture.Contains("Retrieval", StringComparison.Ordinal)) paths = paths.Concat(Retrieval);
        else
        {
            var textType = Find(root, "text_config.model_type")?.GetString() ?? "opt";
            paths = paths.Append(("text_config.model_type", "opt")).Concat(textType == "t5" ? T5 : Opt);
        }
        var fields = paths.Select(p => KeyValuePair.Create(p.Path, Value(Find(root, p.Path), p.Default))).ToList();
        return new ConfigSignature(architecture, fields);
    }

    public bool Matches(ConfigSignature other) =>
        Architecture == other.Architecture && Fields.SequenceEqual(other.Fields);

    /// <summary>A short description for error messages, e.g. "Blip2ForConditionalGeneration, opt, vision 1408×39, text 2560×32".</summary>
    public string Describe()
    {
        string F(string path) => Fields.FirstOrDefault(f => f.Key == path).Value ?? "?";
        var text = Fields.Any(f => f.Key == "text_config.model_type")
            ? F("text_config.model_type") == "t5"
                ? $", t5 {F("text_config.d_model")}×{F("text_config.num_layers")}"
                : $", opt {F("text_config.hidden_size")}×{F("text_config.num_hidden_layers")}"
            : "";
        return $"{Architecture}, vision {F("vision_config.hidden_size")}×{F("vision_config.num_hidden_layers")} at {F("vision_config.image_size")}px{text}";
    }

    private static JsonElement? Find(JsonElement root, string path)
    {
        var current = root;
        foreach (var part in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current)) return null;
        }
        return current;
    }

    private static string Value(JsonElement? element, object? fallback) => element switch
    {
        null or { ValueKind: JsonValueKind.Null } => fallback is null ? "null" : Convert.ToString(fallback, CultureInfo.InvariantCulture)!,
        { ValueKind: JsonValueKind.Number } e => e.GetDouble().ToString("R", CultureInfo.InvariantCulture),
        { ValueKind: JsonValueKind.String } e => e.GetString()!,
        { } e => e.GetRawText(),
    };
}
