namespace Blip2Compiler.Processing;

/// <summary>
/// An image whose header claims more pixels (or bytes) than <see cref="ImageLimits"/> allow; raised before any pixel
/// memory is allocated, so a decompression bomb costs nothing.
/// </summary>
public sealed class ImageTooLargeException : ImageDecodeException
{
    public ImageTooLargeException(string source, string problem, long width, long height)
        : base(source, problem)
    {
        Width = width;
        Height = height;
    }

    public long Width { get; }
    public long Height { get; }
}
