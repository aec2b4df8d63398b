namespace Blip2Compiler.Processing;

/// <summary>
/// What a checkpoint's tokenizer files say beyond the model itself: special token ids, what encoding adds around
/// the text (HF post-processor), the added tokens and the decode clean-up.
/// </summary>
internal sealed record TokenizerSpecials
{
    public int? Bos { get; init; }
    public int? Eos { get; init; }
    public int? Unk { get; init; }
    public int? Pad { get; init; }

    /// <summary>Ids put before the text when special tokens are added (OPT: &lt;/s&gt;; BERT: [CLS]).</summary>
    public IReadOnlyList<int> Prefix { get; init; } = [];

    /// <summary>Ids put after the text when special tokens are added (T5: &lt;/s&gt;; BERT: [SEP]).</summary>
    public IReadOnlyList<int> Suffix { get; init; } = [];

    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];

    /// <summary>Ids dropped by <c>Decode(skipSpecialTokens: true)</c>.</summary>
    public IReadOnlySet<int> SpecialIds { get; init; } = new HashSet<int>();

    /// <summary>transformers' <c>clean_up_tokenization_spaces</c> (false unless the checkpoint's config asks for it).</summary>
    public bool CleanUpTokenizationSpaces { get; init; }
}
