using System.Text;
using Microsoft.ML.Tokenizers;

namespace Blip2Compiler.Processing;

/// <summary>How BERT normalizes text before WordPiece (HF <c>BertNormalizer</c> options).</summary>
internal sealed record BertNormalization(bool Lowercase = true, bool? StripAccents = null, bool HandleChineseChars = true, bool CleanText = true);

/// <summary>
/// BERT's WordPiece (the Q-Former text side of the retrieval checkpoints): HF's BERT normalizer and pre-tokenizer
/// feed Microsoft.ML.Tokenizers' <see cref="WordPieceTokenizer"/> (greedy longest-match-first); decoding follows HF's
/// WordPiece decoder.
/// </summary>
public sealed class BertWordPieceTokenizer : TextTokenizer
{
    private readonly WordPieceTokenizer _wordPiece;
    private readonly IReadOnlyList<string> _idToToken;
    private readonly Dictionary<string, int> _vocab;
    private readonly string _subwordPrefix;
    private readonly bool _decoderCleanup;

    internal BertWordPieceTokenizer(
        IReadOnlyList<string> vocab, BertNormalization normalization, string unkToken, string subwordPrefix,
        int maxInputCharsPerWord, bool decoderCleanup, TokenizerSpecials specials)
        : base(specials)
    {
        _idToToken = vocab;
        _vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = vocab.Count - 1; id >= 0; id--) _vocab[vocab[id]] = id; // the first of duplicates wins
        _subwordPrefix = subwordPrefix;
        _decoderCleanup = decoderCleanup;

        using var vocabStream = new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', vocab)));
        _wordPiece = WordPieceTokenizer.Create(vocabStream, new WordPieceOptions
        {
            Normalizer = new BertTextNormalizer(normalization.CleanText, normalization.HandleChineseChars,
                normalization.StripAccents ?? normalization.Lowercase, normalization.Lowercase),
            PreTokenizer = BertPreTokenizer.Instance,
            UnknownToken = unkToken,
            ContinuingSubwordPrefix = subwordPrefix,
            MaxInputCharsPerWord = maxInputCharsPerWord,
        });
    }

    public override string Kind => "WordPiece";

    protected override int BaseVocabSize => _idToToken.Count;

    protected override int? BaseTokenToId(string token) => _vocab.TryGetValue(token, out var id) ? id : null;

    protected override bool IsBaseId(int id) => (uint)id < (uint)_idToToken.Count;

    private protected override void EncodeText(string text, List<int> ids) => ids.AddRange(_wordPiece.EncodeToIds(text));

    // HF tokenizers' WordPiece decoder: glue "##" pieces to the previous token, put a space before the others,
    // then clean up each token on its own (so " ' " inside "man ' s" stays, as HF leaves it).
    private protected override string DecodeIds(IReadOnlyList<int> ids)
    {
        var text = new StringBuilder();
        for (int i = 0; i < ids.Count; i++)
        {
            var token = TryGetAddedToken(ids[i], out var content) ? content : _idToToken[ids[i]];
            if (i > 0) token = token.StartsWith(_subwordPrefix, StringComparison.Ordinal) ? token[_subwordPrefix.Length..] : " " + token;
            text.Append(_decoderCleanup ? Cleanup(token) : token);
        }
        return text.ToString();
    }

    private static string Cleanup(string token) => token
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" do not", " don't").Replace(" 's", "'s")
        .Replace(" 've", "'ve").Replace(" 're", "'re");
}
