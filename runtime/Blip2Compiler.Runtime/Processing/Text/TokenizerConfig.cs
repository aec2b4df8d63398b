using System.Text.Json;

namespace Blip2Compiler.Processing;

/// <summary>
/// What transformers reads from <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> (the latter wins for
/// the named special tokens, as in <c>from_pretrained</c>). Both files are optional.
/// </summary>
internal sealed class TokenizerConfig
{
    public const string FileName = "tokenizer_config.json";
    public const string SpecialTokensMapFileName = "special_tokens_map.json";

    /// <summary>The named special tokens transformers knows, in the order it lists them.</summary>
    public static readonly string[] NamedTokenKeys = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    // key present with null => explicitly none; key absent => the tokenizer class's default.
    private readonly Dictionary<string, string?> _namedTokens = [];

    public bool? AddBosToken { get; private set; }
    public bool? AddEosToken { get; private set; }
    public bool? DoLowerCase { get; private set; }
    public bool? StripAccents { get; private set; }
    public bool? TokenizeChineseChars { get; private set; }
    public bool? AddPrefixSpace { get; private set; }
    public bool CleanUpTokenizationSpaces { get; private set; }

    /// <summary><c>padding_side</c>: where the tokenizer pads; null when absent (Hugging Face's default is right).</summary>
    public PaddingSide? PaddingSide { get; private set; }

    /// <summary><c>truncation_side</c>: which end truncation cuts; null when absent (Hugging Face's default is right).</summary>
    public PaddingSide? TruncationSide { get; private set; }

    /// <summary><c>model_max_length</c>, or null when absent or Hugging Face's "very large" placeholder (≈1e30).</summary>
    public int? ModelMaxLength { get; private set; }
    public List<AddedToken> AddedTokensDecoder { get; } = [];
    public List<string> AdditionalSpecialTokens { get; } = [];

    /// <summary>True when the config names this special token; <paramref name="token"/> is null for an explicit null.</summary>
    public bool TryGetNamedToken(string key, out string? token) => _namedTokens.TryGetValue(key, out token);

    public static TokenizerConfig Load(string checkpointDir)
    {
        var config = new TokenizerConfig();
        var configPath = Path.Combine(checkpointDir, FileName);
        if (File.Exists(configPath)) config.ReadConfig(TokenizerJsonFile.Read(configPath), configPath);
        var mapPath = Path.Combine(checkpointDir, SpecialTokensMapFileName);
        if (File.Exists(mapPath)) config.ReadSpecialTokens(TokenizerJsonFile.Read(mapPath), mapPath);
        return config;
    }

    private void ReadConfig(JsonElement root, string path)
    {
        AddBosToken = TokenizerJsonFile.Bool(root, "add_bos_token");
        AddEosToken = TokenizerJsonFile.Bool(root, "add_eos_token");
        DoLowerCase = TokenizerJsonFile.Bool(root, "do_lower_case");
        StripAccents = TokenizerJsonFile.Bool(root, "strip_accents");
        TokenizeChineseChars = TokenizerJsonFile.Bool(root, "tokenize_chinese_chars");
        AddPrefixSpace = TokenizerJsonFile.Bool(root, "add_prefix_space");
        CleanUpTokenizationSpaces = TokenizerJsonFile.Bool(root, "clean_up_tokenization_spaces") ?? false;
        PaddingSide = Side(root, "padding_side", path);
        TruncationSide = Side(root, "truncation_side", path);
        if (root.TryGetProperty("model_max_length", out var max) && max.ValueKind == JsonValueKind.Number)
            ModelMaxLength = max.TryGetInt32(out var n) && n > 0 ? n : null;

        if (root.TryGetProperty("added_tokens_decoder", out var decoder))
        {
            if (decoder.ValueKind != JsonValueKind.Object)
                throw new TokenizerFileException(path, "\"added_tokens_decoder\" must be an object of id -> token");
            foreach (var entry in decoder.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, out var id) || id < 0 || entry.Value.ValueKind != JsonValueKind.Object)
                    throw new TokenizerFileException(path, $"\"added_tokens_decoder\" entry \"{entry.Name}\" is not an id with a token object");
                AddedTokensDecoder.Add(TokenizerJsonFile.ParseAddedToken(entry.Value, id, path));
            }
        }
        ReadSpecialTokens(root, path);
    }

    private static PaddingSide? Side(JsonElement root, string key, string path) =>
        !root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String && value.GetString() is "left" ? Processing.PaddingSide.Left
        : value.ValueKind == JsonValueKind.String && value.GetString() is "right" ? Processing.PaddingSide.Right
        : throw new TokenizerFileException(path, $"\"{key}\" must be \"left\" or \"right\" (got {value.GetRawText()})");

    private void ReadSpecialTokens(JsonElement root, string path)
    {
        foreach (var key in NamedTokenKeys)
        {
            if (!root.TryGetProperty(key, out var value)) continue;
            if (value.ValueKind is not (JsonValueKind.Null or JsonValueKind.String or JsonValueKind.Object))
                throw new TokenizerFileException(path, $"\"{key}\" must be a token string, a token object or null");
            _namedTokens[key] = TokenizerJsonFile.TokenContent(value);
        }
        foreach (var key in new[] { "additional_special_tokens", "extra_special_tokens" })
        {
            if (!root.TryGetProperty(key, out var list)) continue;
            var items = list.ValueKind switch
            {
                JsonValueKind.Array => list.EnumerateArray().ToList(),
                JsonValueKind.Object => list.EnumerateObject().Select(p => p.Value).ToList(),
                _ => [],
            };
            foreach (var item in items)
                if (TokenizerJsonFile.TokenContent(item) is { } token && !AdditionalSpecialTokens.Contains(token))
                    AdditionalSpecialTokens.Add(token);
        }
    }
}
