using System.Text;
using Microsoft.ML.Tokenizers;

namespace Blip2Compiler.Processing;

/// <summary>
/// GPT-2 byte-level BPE (OPT, GPT-2, RoBERTa): text is split with GPT-2's regex, each piece becomes UTF-8 bytes
/// mapped to printable characters, then merged. Runs on Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> in
/// byte-level mode: its <c>CodeGenTokenizer</c> hard-codes CodeGen's added tokens (runs of 2–31 spaces become single
/// tokens), which breaks GPT-2/OPT ids on text with repeated spaces.
/// </summary>
public sealed class ByteLevelBpeTokenizer : TextTokenizer
{
    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocab;
    private readonly HashSet<int> _ids;
    private readonly bool _addPrefixSpace;

    internal ByteLevelBpeTokenizer(Dictionary<string, int> vocab, IReadOnlyList<string> merges, bool addPrefixSpace, TokenizerSpecials specials)
        : base(specials)
    {
        _vocab = vocab;
        _ids = [.. vocab.Values];
        _addPrefixSpace = addPrefixSpace;
        _bpe = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = Gpt2PreTokenizer.Instance,   // GPT-2's regex split, over Unicode scalars
        });
    }

    public override string Kind => "byte-level BPE";

    protected override int BaseVocabSize => _vocab.Count;

    protected override int? BaseTokenToId(string token) => _vocab.TryGetValue(token, out var id) ? id : null;

    protected override bool IsBaseId(int id) => _ids.Contains(id);

    private protected override void EncodeText(string text, List<int> ids)
    {
        if (_addPrefixSpace && !text.StartsWith(' ')) text = " " + text;
        ids.AddRange(_bpe.EncodeToIds(text));
    }

    private protected override string DecodeIds(IReadOnlyList<int> ids) =>
        DecodeAroundAddedTokens(ids, run => _bpe.Decode(run, considerSpecialTokens: true));
}
