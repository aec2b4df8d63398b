using System.Globalization;
using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>A line of stdin longer than <see cref="InputLines.MaxChars"/>: dropped, exit code 1 at the end.</summary>
internal sealed class InputLineTooLongException(long length, int limit)
    : Blip2Exception(string.Create(CultureInfo.InvariantCulture,
        $"a line of stdin has {length:N0} characters, more than the {limit:N0} this tool reads as one question"))
{
    /// <summary>Characters the line had.</summary>
    public long Length { get; } = length;

    public int Limit { get; } = limit;
}
