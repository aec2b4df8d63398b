namespace Blip2Compiler.Processing;

/// <summary>
/// What every tokenizer shares, as HF's <c>tokenizers</c> pipeline does it: added tokens are cut out of the raw text
/// first, the rest goes to the model (<see cref="EncodeText"/>), then the post-processor adds the special tokens.
/// </summary>
public abstract class TextTokenizer : ITextTokenizer
{
    private readonly TokenizerSpecials _specials;
    private readonly AddedTokenSplitter _splitter;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly Dictionary<int, string> _addedById;

    private protected TextTokenizer(TokenizerSpecials specials)
    {
        _specials = specials;
        _splitter = new AddedTokenSplitter(specials.AddedTokens);
        _addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        _addedById = [];
        foreach (var token in specials.AddedTokens)
        {
            _addedByContent[token.Content] = token.Id;
            _addedById[token.Id] = token.Content;
        }
    }

    public abstract string Kind { get; }

    public int VocabSize => Math.Max(BaseVocabSize, _addedById.Count == 0 ? 0 : _addedById.Keys.Max() + 1);

    public int? BosTokenId => _specials.Bos;
    public int? EosTokenId => _specials.Eos;
    public int? PadTokenId => _specials.Pad;
    public int? UnkTokenId => _specials.Unk;

    /// <summary>The added tokens (special or not) matched whole in the text.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _specials.AddedTokens;

    /// <summary>Ids that <see cref="Decode"/> drops when skipping special tokens.</summary>
    public IReadOnlySet<int> SpecialTokenIds => _specials.SpecialIds;

    public int NumSpecialTokensToAdd => _specials.Prefix.Count + _specials.Suffix.Count;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (var piece in _splitter.Split(text))
        {
            if (piece.Token is { } token) ids.Add(token.Id);
            else EncodeText(piece.Text!, ids);
        }
        return addSpecialTokens ? BuildInputsWithSpecialTokens(ids) : ids;
    }

    public IReadOnlyList<int> BuildInputsWithSpecialTokens(IReadOnlyList<int> ids) =>
        [.. _specials.Prefix, .. ids, .. _specials.Suffix];

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        // Ids outside the vocabulary (a model's padded embedding rows) are dropped, as HF tokenizers do.
        var kept = ids.Where(id => (!skipSpecialTokens || !_specials.SpecialIds.Contains(id)) && IsKnownId(id)).ToList();
        var text = DecodeIds(kept);
        return _specials.CleanUpTokenizationSpaces ? CleanUpTokenization(text) : text;
    }

    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out var id) ? id : BaseTokenToId(token);

    /// <summary>Number of ids of the model's own vocabulary (HF <c>vocab_size</c>).</summary>
    protected abstract int BaseVocabSize { get; }

    protected abstract int? BaseTokenToId(string token);

    /// <summary>True when the model's vocabulary has this id.</summary>
    protected abstract bool IsBaseId(int id);

    /// <summary>Appends the ids of plain text (no added tokens in it).</summary>
    private protected abstract void EncodeText(string text, List<int> ids);

    /// <summary>Text of known ids; added tokens among them can be looked up with <see cref="TryGetAddedToken"/>.</summary>
    private protected abstract string DecodeIds(IReadOnlyList<int> ids);

    /// <summary>Added tokens decode to their content; runs of model ids between them go through the model's decoder.</summary>
    private protected string DecodeAroundAddedTokens(IReadOnlyList<int> ids, Func<List<int>, string> decodeRun)
    {
        var text = new System.Text.StringBuilder();
        var run = new List<int>();
        foreach (var id in ids)
        {
            if (TryGetAddedToken(id, out var content))
            {
                Flush();
                text.Append(content);
            }
            else run.Add(id);
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            if (run.Count == 0) return;
            text.Append(decodeRun(run));
            run.Clear();
        }
    }

    /// <summary>The content of an added token that the model's vocabulary lacks.</summary>
    private protected bool TryGetAddedToken(int id, out string content) =>
        _addedById.TryGetValue(id, out content!) && !IsBaseId(id);

    private bool IsKnownId(int id) => IsBaseId(id) || _addedById.ContainsKey(id);

    /// <summary>transformers' <c>clean_up_tokenization</c>: drops the spaces English tokenizers leave before punctuation.</summary>
    internal static string CleanUpTokenization(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
}
