using System.Text;

namespace Blip2.Cli;

/// <summary>
/// Lines of text from stdin (blip2 chat's questions), each held to <see cref="MaxChars"/>: <c>blip2 chat photo.jpg &lt;
/// /dev/zero</c> is one typed error per over-long line instead of a line read until memory runs out. A line ends at
/// <c>\n</c>, <c>\r\n</c> or <c>\r</c> (the console's reader gives Enter as <c>\r</c> on a terminal).
/// </summary>
internal sealed class InputLines(TextReader reader)
{
    /// <summary>
    /// 1 Mi characters: a bound on memory, not on models (OPT-2.7b's 2,048 positions hold about 10,000 characters of
    /// English; the generation prelude reports a question past the model's own limit).
    /// </summary>
    public const int MaxChars = 1 << 20;

    private bool _afterCarriageReturn;

    /// <summary>The next line without its end, or null at the end of input; a longer one is read to its end and dropped (<see cref="InputLineTooLongException"/>).</summary>
    public string? ReadLine(int maxChars = MaxChars)
    {
        var line = new StringBuilder();
        long length = 0;
        var any = false;
        while (true)
        {
            var c = reader.Read();
            if (c == '\n' && _afterCarriageReturn && !any)
            {
                _afterCarriageReturn = false;   // the \n of a \r\n: the line ended at the \r
                continue;
            }
            _afterCarriageReturn = false;
            if (c < 0)
            {
                if (!any) return null;
                break;
            }
            any = true;
            if (c == '\n') break;
            if (c == '\r')
            {
                _afterCarriageReturn = true;
                break;
            }
            length++;
            if (line.Length <= maxChars) line.Append((char)c);
        }
        var text = line.ToString();
        if (text.Length > maxChars) throw new InputLineTooLongException(length, maxChars);
        return text;
    }
}
