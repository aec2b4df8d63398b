namespace Blip2Compiler.Processing;

/// <summary>
/// A Hugging Face compatible text tokenizer: the same ids, special tokens and decoded text as the checkpoint's
/// own tokenizer in <c>transformers</c>.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>The algorithm, e.g. "byte-level BPE", "WordPiece", "SentencePiece Unigram".</summary>
    string Kind { get; }

    /// <summary>Number of ids, added tokens included (HF <c>len(tokenizer)</c>).</summary>
    int VocabSize { get; }

    int? BosTokenId { get; }
    int? EosTokenId { get; }
    int? PadTokenId { get; }
    int? UnkTokenId { get; }

    /// <summary>Ids of <paramref name="text"/>; with <paramref name="addSpecialTokens"/> the checkpoint's BOS/EOS/[CLS]/[SEP] are added as HF does.</summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    /// <summary>Text of <paramref name="ids"/>; special tokens (BOS, EOS, padding, &lt;image&gt;, ...) are dropped unless asked for.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);

    /// <summary>The id of one token of the vocabulary or of the added tokens; null when unknown.</summary>
    int? TokenToId(string token);

    /// <summary>How many ids <see cref="BuildInputsWithSpecialTokens"/> adds (HF <c>num_special_tokens_to_add</c>).</summary>
    int NumSpecialTokensToAdd { get; }

    /// <summary>Wraps ids encoded without special tokens the way <see cref="Encode"/> would (HF <c>build_inputs_with_special_tokens</c>).</summary>
    IReadOnlyList<int> BuildInputsWithSpecialTokens(IReadOnlyList<int> ids);
}
