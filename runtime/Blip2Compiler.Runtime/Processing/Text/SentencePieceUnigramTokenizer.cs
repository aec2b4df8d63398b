using System.Text;
using Microsoft.ML.Tokenizers;

namespace Blip2Compiler.Processing;

/// <summary>
/// SentencePiece Unigram (T5 / Flan-T5), run by Microsoft.ML.Tokenizers' <see cref="SentencePieceTokenizer"/> on the
/// checkpoint's <c>spiece.model</c> (see <see cref="SentencePieceModel.BytesForMicrosoftMLTokenizers"/> for the
/// bos_id = -1 workaround).
/// </summary>
public sealed class SentencePieceUnigramTokenizer : TextTokenizer
{
    private readonly SentencePieceTokenizer _sentencePiece;
    private readonly SentencePieceModel _model;
    private readonly Dictionary<string, int> _vocab;

    internal SentencePieceUnigramTokenizer(SentencePieceModel model, TokenizerSpecials specials) : base(specials)
    {
        _model = model;
        _vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = model.Pieces.Count - 1; id >= 0; id--) _vocab[model.Pieces[id].Piece] = id;
        using var stream = new MemoryStream(model.BytesForMicrosoftMLTokenizers());
        _sentencePiece = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
    }

    public override string Kind => "SentencePiece Unigram";

    protected override int BaseVocabSize => _model.Pieces.Count;

    protected override int? BaseTokenToId(string token) => _vocab.TryGetValue(token, out var id) ? id : null;

    protected override bool IsBaseId(int id) => (uint)id < (uint)_model.Pieces.Count;

    private protected override void EncodeText(string text, List<int> ids)
    {
        var encoded = Guard(() => _sentencePiece.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false));
        for (int i = 0; i < encoded.Count; i++)
        {
            // SentencePiece (and HF's Unigram, fuse_unk) turn a run of unknown characters into one <unk>;
            // Microsoft.ML.Tokenizers gives one per character.
            if (i > 0 && encoded[i] == _model.UnkId && encoded[i - 1] == _model.UnkId && !_model.ByteFallback) continue;
            ids.Add(encoded[i]);
        }
    }

    private protected override string DecodeIds(IReadOnlyList<int> ids) =>
        DecodeAroundAddedTokens(ids, run => Guard(() => _sentencePiece.Decode(run, considerSpecialTokens: true)));

    /// <summary>
    /// A damaged model can parse yet hold a normalization table that Microsoft.ML.Tokenizers indexes out of range on
    /// some text (found by DamagedTokenizerFileTests): that is the file's fault, and said so.
    /// </summary>
    private T Guard<T>(Func<T> run)
    {
        try
        {
            return run();
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            throw new TokenizerFileException(_model.Path, "Microsoft.ML.Tokenizers cannot run this model on the text (a damaged normalization table?): " + e.Message, e);
        }
    }
}
