namespace Blip2Compiler.Processing;

/// <summary>
/// Cuts raw text around added tokens, leftmost match first and the longest token at that position, as HF's
/// <c>AddedVocabulary</c> does before normalization; the pieces between them go to the model.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly AddedToken[] _longestFirst;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _longestFirst = tokens.Where(t => t.Content.Length > 0)
            .OrderByDescending(t => t.Content.Length).ThenBy(t => t.Id).ToArray();
    }

    /// <summary>One piece of the text: plain <see cref="Text"/>, or the added token <see cref="Token"/>.</summary>
    public readonly record struct Piece(string? Text, AddedToken? Token);

    public IEnumerable<Piece> Split(string text)
    {
        if (_longestFirst.Length == 0)
        {
            if (text.Length > 0) yield return new Piece(text, null);
            yield break;
        }

        int textStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            var token = MatchAt(text, i);
            if (token is null)
            {
                i++;
                continue;
            }

            int start = i, end = i + token.Content.Length;
            if (token.LStrip)
                while (start > textStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (token.RStrip)
                while (end < text.Length && char.IsWhiteSpace(text[end])) end++;

            if (start > textStart) yield return new Piece(text[textStart..start], null);
            yield return new Piece(null, token);
            textStart = i = end;
        }

        if (textStart < text.Length) yield return new Piece(text[textStart..], null);
    }

    private AddedToken? MatchAt(string text, int i)
    {
        foreach (var token in _longestFirst)
        {
            var content = token.Content;
            if (content.Length > text.Length - i || string.CompareOrdinal(text, i, content, 0, content.Length) != 0)
                continue;
            if (token.SingleWord && !IsWholeWord(text, i, i + content.Length))
                continue;
            return token;
        }
        return null;
    }

    private static bool IsWholeWord(string text, int start, int end) =>
        (start == 0 || !char.IsLetterOrDigit(text[start - 1])) && (end == text.Length || !char.IsLetterOrDigit(text[end]));
}
