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

    public static ImageSource Read(Func<Stream> open, long limit)
    {
        using var stream = open();
        // Chunks, joined once at the end: a MemoryStream would double its buffer past the limit (512 MB for 256 MB).
        var chunks = new List<byte[]>();
        long total = 0;
        while (true)
        {
            var chunk = new byte[1 << 20];
            int filled = 0, read;
            while (filled < chunk.Length && (read = stream.Read(chunk, filled, chunk.Length - filled)) > 0) filled += read;
            total += filled;
            if (total > limit)
                throw new ImageTooLargeException(Name, $"more than the limit of {limit} bytes (ImageLimits.MaxEncodedBytes) on stdin", 0, 0);
            if (filled > 0) chunks.Add(filled == chunk.Length ? chunk : chunk[..filled]);
            if (filled < chunk.Length) break;
        }
        var bytes = new byte[total];
        long offset = 0;
        foreach (var c in chunks) { c.CopyTo(bytes, offset); offset += c.Length; }
        return ImageSource.FromBytes(bytes, Name);
    }
}
