namespace Blip2Compiler.Processing;

/// <summary>Bounds on what <see cref="ImageDecoder"/> accepts, checked from headers before decoding.</summary>
public sealed record ImageLimits
{
    /// <summary>Largest width × height accepted (PIL warns at 89 MP and refuses at 179 MP).</summary>
    public long MaxPixels { get; init; } = 100_000_000;

    /// <summary>Largest encoded file or buffer accepted.</summary>
    public long MaxEncodedBytes { get; init; } = 256L * 1024 * 1024;

    public static ImageLimits Default { get; } = new();
}
