using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Blip2Compiler.Processing;

/// <summary>
/// HF tokenizers' <c>BertNormalizer</c>: drop control characters, turn whitespace into spaces, put spaces around CJK
/// ideographs, strip accents (NFD, drop non-spacing marks) and lower-case. Works on code points (runes), so emoji and
/// other surrogate pairs are not taken for control characters. Microsoft.ML.Tokenizers' own BERT pipeline differs
/// from HF on tabs (removed instead of split on) and on symbols such as '$' and '=' (dropped).
/// </summary>
internal sealed class BertTextNormalizer(bool cleanText, bool handleChineseChars, bool stripAccents, bool lowercase) : Normalizer
{
    public override string Normalize(string original) => Normalize(original.AsSpan());

    public override string Normalize(ReadOnlySpan<char> original)
    {
        var text = new StringBuilder(original.Length);
        foreach (var rune in original.EnumerateRunes())
        {
            if (cleanText)
            {
                if (rune.Value == 0 || rune.Value == 0xFFFD || IsControl(rune)) continue;
                if (IsWhitespace(rune))
                {
                    text.Append(' ');
                    continue;
                }
            }
            if (handleChineseChars && IsChineseChar(rune.Value)) text.Append(' ').Append(rune.ToString()).Append(' ');
            else text.Append(rune.ToString());
        }

        var normalized = text.ToString();
        if (stripAccents) normalized = StripAccents(normalized);
        if (lowercase) normalized = normalized.ToLowerInvariant();
        return normalized;
    }

    private static string StripAccents(string text)
    {
        var decomposed = text.Normalize(NormalizationForm.FormD);
        var kept = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) kept.Append(rune.ToString());
        return kept.ToString();
    }

    // Tab, newline and carriage return count as whitespace, not control.
    private static bool IsWhitespace(Rune rune) => rune.Value is '\t' or '\n' or '\r' || Rune.IsWhiteSpace(rune);

    private static bool IsControl(Rune rune) => rune.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(rune) is
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
        or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    // The CJK Unified Ideographs blocks BERT splits into single characters.
    private static bool IsChineseChar(int c) =>
        c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
