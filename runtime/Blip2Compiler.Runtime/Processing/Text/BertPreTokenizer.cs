using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Blip2Compiler.Processing;

/// <summary>HF tokenizers' <c>BertPreTokenizer</c>: split on whitespace (dropped) and on each punctuation character (kept alone).</summary>
internal sealed class BertPreTokenizer : PreTokenizer
{
    public static BertPreTokenizer Instance { get; } = new();

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => PreTokenize(text.ToString());

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text)
    {
        int wordStart = -1;
        int i = 0;
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int length);
            if (Rune.IsWhiteSpace(rune) || IsPunctuation(rune))
            {
                if (wordStart >= 0) yield return (wordStart, i - wordStart);
                wordStart = -1;
                if (!Rune.IsWhiteSpace(rune)) yield return (i, length);
            }
            else if (wordStart < 0) wordStart = i;
            i += length;
        }
        if (wordStart >= 0) yield return (wordStart, text.Length - wordStart);
    }

    // All ASCII symbols count ('$', '=', '^', ...), as well as Unicode punctuation.
    private static bool IsPunctuation(Rune rune) =>
        rune.Value is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126
        || Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
}
