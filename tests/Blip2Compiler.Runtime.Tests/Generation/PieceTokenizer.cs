using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Generation;

/// <summary>
/// A toy tokenizer for decoding tests: id i decodes to a lower-case then an upper-case letter ("aA", "bB", …), so a
/// string like "Ab" only occurs across a token boundary. Ids in <paramref name="special"/> decode to nothing.
/// </summary>
internal sealed class PieceTokenizer(int vocab, params long[] special) : ITextTokenizer
{
    public static string Piece(long id) => $"{(char)('a' + id)}{(char)('A' + id)}";

    public string Kind => "pieces";
    public int VocabSize => vocab;
    public int? BosTokenId => null;
    public int? EosTokenId => null;
    public int? PadTokenId => null;
    public int? UnkTokenId => null;
    public int NumSpecialTokensToAdd => 0;

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        string.Concat(ids.Where(id => !skipSpecialTokens || !special.Contains(id)).Select(id => Piece(id)));

    public string Text(IEnumerable<long> ids) => Decode(ids.Select(id => (int)id));

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => throw new NotSupportedException();
    public int? TokenToId(string token) => null;
    public IReadOnlyList<int> BuildInputsWithSpecialTokens(IReadOnlyList<int> ids) => ids;
}
