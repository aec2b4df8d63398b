namespace Blip2Compiler.Processing;

/// <summary>Bounds on what <see cref="ImageDecoder"/> accepts, checked from headers before decoding.</summary>
public sealed record ImageLimits
{
    /// <summary>Largest width × height accepted (PIL warns at 89 MP and refuses at 179 MP).</summary>
    public long MaxPixels { get; init; } = 100_000_000;

    /// <summary>Largest encoded file or buffer accepted.</summary>
    public long MaxEncodedBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>
    /// Most scans a JPEG may have. Each progressive scan revisits the whole image, so a small crafted file with
    /// thousands of scans would take minutes to decode; real files have one (baseline) to about a dozen.
    /// </summary>
    public int MaxJpegScans { get; init; } = 500;

    public static ImageLimits Default { get; } = new();
}
