using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Blip2Compiler.Processing;

/// <summary>
/// GPT-2's split (HF tokenizers' ByteLevel pre-tokenizer, <c>use_regex = true</c>):
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, tried in that order at each
/// position. Written out over Unicode scalars because .NET's regex classes see UTF-16 units: a letter outside the
/// BMP (𝐀, 𠀀, Gothic) is two surrogates that <c>\p{L}</c> does not match, so a regex split would cut "𝐀bc" where
/// the reference keeps one piece, and the ids would differ.
/// </summary>
internal sealed class Gpt2PreTokenizer : PreTokenizer
{
    public static readonly Gpt2PreTokenizer Instance = new();

    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) =>
        text is null ? [] : Split(text.AsSpan());

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text);

    /// <summary>The pieces of <paramref name="text"/> as (offset, length) in UTF-16 units.</summary>
    internal static List<(int Offset, int Length)> Split(ReadOnlySpan<char> text)
    {
        var pieces = new List<(int, int)>();
        var i = 0;
        while (i < text.Length)
        {
            var length = Match(text, i);
            pieces.Add((i, length));
            i += length;
        }
        return pieces;
    }

    private enum Kind { Letter, Number, Space, Other }

    private static Kind KindAt(ReadOnlySpan<char> text, int i, out int width)
    {
        if (Rune.DecodeFromUtf16(text[i..], out var rune, out width) != OperationStatus.Done)
            return Kind.Other;   // a lone surrogate: neither letter, number nor space, as in the reference
        if (Rune.IsWhiteSpace(rune)) return Kind.Space;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }

    /// <summary>Length of the piece starting at <paramref name="start"/> (always at least one unit).</summary>
    private static int Match(ReadOnlySpan<char> text, int start)
    {
        foreach (var contraction in Contractions)
            if (text[start..].StartsWith(contraction, StringComparison.Ordinal)) return contraction.Length;

        // ` ?X+` for letters, numbers, then anything else but whitespace.
        var body = text[start] == ' ' && start + 1 < text.Length ? start + 1 : start;
        var first = KindAt(text, body, out var width);
        if (first != Kind.Space)
        {
            var end = body + width;
            while (end < text.Length && KindAt(text, end, out var w) == first) end += w;
            return end - start;
        }

        // Whitespace: `\s+(?!\S)` keeps the last space of a run for the word after it; `\s+` takes a run that ends
        // the text or a single space before a word that the optional-space patterns did not take (a tab, say).
        var runEnd = start;
        while (runEnd < text.Length && KindAt(text, runEnd, out var w) == Kind.Space) runEnd += w;
        if (runEnd == text.Length) return runEnd - start;
        var lastStart = LastScalarStart(text, start, runEnd);
        return lastStart > start ? lastStart - start : runEnd - start;
    }

    private static int LastScalarStart(ReadOnlySpan<char> text, int from, int end)
    {
        var last = from;
        for (var i = from; i < end;)
        {
            last = i;
            KindAt(text, i, out var w);
            i += w;
        }
        return last;
    }
}
