using Blip2Compiler.Processing;

namespace Blip2.Cli;

/// <summary>
/// The image argument <c>-</c>: one encoded image read from stdin, held to the same size limit as image files
/// (<see cref="ImageLimits.MaxEncodedBytes"/>, 256 MB): <c>blip2 caption - &lt; /dev/zero</c> stops at the limit with a
/// typed error instead of reading until memory runs out.
/// </summary>
internal static class StdinImage
{
    public const string Argument = "-";
    public const string Name = "<stdin>";

    public static ImageSource Read(Func<Stream> open, ImageDecoder decoder)
    {
        using var stream = open();
        return ImageSource.FromBytes(decoder.ReadEncoded(stream, Name), Name);
    }
}
