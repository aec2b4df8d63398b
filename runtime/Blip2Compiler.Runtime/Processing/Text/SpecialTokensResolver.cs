namespace Blip2Compiler.Processing;

/// <summary>
/// Works out a tokenizer's <see cref="TokenizerSpecials"/> the way transformers does: named special tokens from the
/// config (else the tokenizer class's defaults) become special added tokens; <c>add_bos_token</c>/<c>add_eos_token</c>
/// win over tokenizer.json's post-processor, which wins over the class's default template.
/// </summary>
internal sealed class SpecialTokensResolver
{
    public required Func<string, int?> BaseTokenToId { get; init; }
    public required TokenizerConfig Config { get; init; }

    /// <summary>tokenizer.json's <c>added_tokens</c>.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];

    /// <summary>The tokenizer class's default for each named token key (e.g. "unk_token" -> "[UNK]").</summary>
    public IReadOnlyDictionary<string, string?> Defaults { get; init; } = new Dictionary<string, string?>();

    /// <summary>Named token keys put before / after the text when tokenizer.json gives no template.</summary>
    public IReadOnlyList<string> DefaultPrefix { get; init; } = [];
    public IReadOnlyList<string> DefaultSuffix { get; init; } = [];

    /// <summary>The post-processor template of tokenizer.json, if it has one.</summary>
    public (IReadOnlyList<int> Prefix, IReadOnlyList<int> Suffix)? Template { get; init; }

    /// <summary>Ids special to the model itself (SentencePiece control and unknown pieces).</summary>
    public IEnumerable<int> ModelSpecialIds { get; init; } = [];

    public TokenizerSpecials Resolve()
    {
        var added = new Dictionary<int, AddedToken>();
        foreach (var token in AddedTokens.Concat(Config.AddedTokensDecoder)) added.TryAdd(token.Id, token);
        var byContent = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in added.Values) byContent.TryAdd(token.Content, token.Id);
        int? Lookup(string content) => byContent.TryGetValue(content, out var id) ? id : BaseTokenToId(content);

        var specialIds = new HashSet<int>(ModelSpecialIds);
        void MarkSpecial(string content, int id)
        {
            specialIds.Add(id);
            if (!added.TryGetValue(id, out var existing) || existing.Content != content) added[id] = new AddedToken(content, id, Special: true);
            else if (!existing.Special) added[id] = existing with { Special = true };
        }

        var named = new Dictionary<string, int?>();
        foreach (var key in TokenizerConfig.NamedTokenKeys)
        {
            var content = Config.TryGetNamedToken(key, out var configured) ? configured : Defaults.GetValueOrDefault(key);
            int? id = content is null ? null : Lookup(content);
            named[key] = id;
            if (id is int found) MarkSpecial(content!, found);
        }
        foreach (var content in Config.AdditionalSpecialTokens)
            if (Lookup(content) is int id) MarkSpecial(content, id);
        foreach (var token in added.Values) if (token.Special) specialIds.Add(token.Id);

        IReadOnlyList<int> Ids(IEnumerable<string> keys) => [.. keys.Select(k => named[k]).OfType<int>()];
        IReadOnlyList<int> One(int? id) => id is int i ? [i] : [];
        var prefix = Config.AddBosToken is bool addBos ? (addBos ? One(named["bos_token"]) : [])
            : Template?.Prefix ?? Ids(DefaultPrefix);
        var suffix = Config.AddEosToken is bool addEos ? (addEos ? One(named["eos_token"]) : [])
            : Template?.Suffix ?? Ids(DefaultSuffix);

        return new TokenizerSpecials
        {
            Bos = named["bos_token"],
            Eos = named["eos_token"],
            Unk = named["unk_token"],
            Pad = named["pad_token"],
            Prefix = prefix,
            Suffix = suffix,
            AddedTokens = [.. added.Values.OrderBy(t => t.Id)],
            SpecialIds = specialIds,
            CleanUpTokenizationSpaces = Config.CleanUpTokenizationSpaces,
        };
    }
}
