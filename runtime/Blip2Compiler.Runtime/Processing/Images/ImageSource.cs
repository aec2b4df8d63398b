using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Processing;

/// <summary>An image to preprocess: a file, encoded bytes, or an image already decoded with ImageSharp.</summary>
public sealed class ImageSource
{
    private readonly string? _path;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly Image? _image;

    private ImageSource(string? path, ReadOnlyMemory<byte> bytes, Image? image, string name)
    {
        _path = path;
        _bytes = bytes;
        _image = image;
        Name = name;
    }

    /// <summary>Names the image in error messages.</summary>
    public string Name { get; }

    public static ImageSource FromFile(string path) =>
        new(path ?? throw new ArgumentNullException(nameof(path)), default, null, path);

    public static ImageSource FromBytes(ReadOnlyMemory<byte> bytes, string? name = null) =>
        new(null, bytes, null, name ?? "<bytes>");

    /// <summary>
    /// Wraps a decoded image; it stays owned by the caller. Other pixel formats are converted like PIL's
    /// <c>convert("RGB")</c> (alpha dropped).
    /// </summary>
    public static ImageSource FromImage(Image image, string? name = null) =>
        new(null, default, image ?? throw new ArgumentNullException(nameof(image)), name ?? "<image>");

    public static implicit operator ImageSource(string path) => FromFile(path);
    public static implicit operator ImageSource(byte[] bytes) => FromBytes(bytes);
    public static implicit operator ImageSource(Image<Rgb24> image) => FromImage(image);

    /// <summary>
    /// The RGB image; <paramref name="owned"/> says whether the caller must dispose it (false when it is the
    /// caller's own <see cref="Image{Rgb24}"/>).
    /// </summary>
    internal Image<Rgb24> Open(ImageDecoder decoder, out bool owned)
    {
        owned = true;
        if (_image is Image<Rgb24> rgb) { owned = false; return rgb; }
        if (_image is not null) return _image.CloneAs<Rgb24>();
        return _path is not null ? decoder.Decode(_path) : decoder.Decode(_bytes, Name);
    }

    public override string ToString() => Name;
}
