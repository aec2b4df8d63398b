using System.Buffers.Binary;
using Blip2Compiler.Processing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Tests.Images;

public class ImageDecoderTests
{
    private static readonly ImageDecoder Decoder = ImageDecoder.Default;

    // ---------------------------------------------------------------- rejected input

    [Fact]
    public void ZeroBytesAreRejected()
    {
        var e = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(Array.Empty<byte>(), "empty.png"));
        Assert.Equal("empty.png", e.ImageName);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void ZeroByteFileIsRejectedWithItsPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"blip2-empty-{Guid.NewGuid():N}.jpg");
        File.WriteAllBytes(path, []);
        try
        {
            var e = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(path));
            Assert.Contains(path, e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingFileIsRejected()
    {
        var e = Assert.Throws<ImageDecodeException>(() => Decoder.Decode("/nonexistent/cat.png"));
        Assert.Contains("cat.png", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void RandomBytesAreAnUnknownFormat()
    {
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        bytes[0] = 0x00; // no accidental magic number
        var e = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(bytes, "noise.bin"));
        Assert.Contains("unknown image format", e.Message);
        Assert.Contains("noise.bin", e.Message);
    }

    [Theory]
    [InlineData("coffee.png", 0.6)]
    [InlineData("coffee.png", 0.99)]
    [InlineData("noise_rgba.png", 0.3)]
    [InlineData("rocket.jpg", 0.5)]
    [InlineData("rocket.jpg", 0.999)]
    public void TruncatedFixturesAreRejected(string file, double keep)
    {
        var bytes = File.ReadAllBytes(Path.Combine(ImageGolden.Dir, file));
        var cut = bytes[..(int)(bytes.Length * keep)];
        var e = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(cut, file));
        Assert.Contains("truncated", e.Message);
        Assert.IsNotType<ImageTooLargeException>(e);
    }

    [Theory]
    [MemberData(nameof(EncodedFormats))]
    public void TruncatedEncodingsAreRejected(string format)
    {
        var bytes = Encode(Pattern(37, 23), format);
        var e = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(bytes[..(bytes.Length * 2 / 3)], "cut." + format));
        Assert.Contains("cut." + format, e.Message);
    }

    [Fact]
    public void PngHeaderClaimingTenBillionPixelsIsRejectedBeforeDecoding()
    {
        var bytes = PngWithHeaderOnly(100_000, 100_000);
        var e = Assert.Throws<ImageTooLargeException>(() => Decoder.Decode(bytes, "bomb.png"));
        Assert.Equal(100_000, e.Width);
        Assert.Equal(100_000, e.Height);
        Assert.Contains("10000000000 pixels", e.Message);
        Assert.Contains("bomb.png", e.Message);
    }

    [Fact]
    public void PixelLimitIsConfigurable()
    {
        var small = new ImageDecoder(new ImageLimits { MaxPixels = 100 });
        var bytes = Encode(Pattern(20, 20), "png");
        var e = Assert.Throws<ImageTooLargeException>(() => small.Decode(bytes));
        Assert.Contains("400 pixels", e.Message);
        using var ok = Decoder.Decode(bytes);
        Assert.Equal(20, ok.Width);
    }

    [Fact]
    public void EncodedSizeLimitIsConfigurable()
    {
        var tiny = new ImageDecoder(new ImageLimits { MaxEncodedBytes = 64 });
        var bytes = Encode(Pattern(20, 20), "png");
        Assert.Throws<ImageTooLargeException>(() => tiny.Decode(bytes));
        Assert.Throws<ImageTooLargeException>(() => tiny.Decode(new MemoryStream(bytes)));
    }

    [Fact]
    public void AFileThatNeverEndsIsReadOnlyToTheLimit()
    {
        // /dev/zero reports length 0, like pipes and /proc files; File.ReadAllBytes read it until memory ran out.
        var tiny = new ImageDecoder(new ImageLimits { MaxEncodedBytes = 64 });
        var e = Assert.Throws<ImageTooLargeException>(() => tiny.Decode("/dev/zero"));
        Assert.Equal("/dev/zero", e.ImageName);
        Assert.Contains("longer than the limit of 64 bytes", e.Message);
    }

    [Fact]
    public void AnEncodedStreamIsReadWholeUnderTheLimit()
    {
        var bytes = Encode(Pattern(300, 300), "png");
        var chunked = new ImageDecoder().ReadEncoded(new OneByteAtATime(bytes));
        Assert.Equal(bytes, chunked);
    }

    /// <summary>A stream that gives at most one byte per read, as a slow pipe may.</summary>
    private sealed class OneByteAtATime(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));
    }

    [Fact]
    public void CorruptHeaderIsRejected()
    {
        var bytes = PngWithHeaderOnly(10, 10);
        bytes[20] ^= 0xFF; // inside IHDR: the CRC no longer matches
        Assert.Throws<ImageDecodeException>(() => Decoder.Decode(bytes, "crc.png"));
    }

    // ---------------------------------------------------------------- PIL convert("RGB") semantics

    [Fact]
    public void AlphaIsDroppedNotComposited()
    {
        using var rgba = new Image<Rgba32>(3, 1);
        rgba[0, 0] = new Rgba32(200, 10, 30, 0);   // fully transparent keeps its color
        rgba[1, 0] = new Rgba32(40, 50, 60, 128);
        rgba[2, 0] = new Rgba32(1, 2, 3, 255);
        using var decoded = Decoder.Decode(Encode(rgba, "png"));
        Assert.Equal(new Rgb24(200, 10, 30), decoded[0, 0]);
        Assert.Equal(new Rgb24(40, 50, 60), decoded[1, 0]);
        Assert.Equal(new Rgb24(1, 2, 3), decoded[2, 0]);
    }

    [Fact]
    public void GrayscaleIsExpandedToThreeEqualChannels()
    {
        using var gray = new Image<L8>(2, 1);
        gray[0, 0] = new L8(17);
        gray[1, 0] = new L8(250);
        using var decoded = Decoder.Decode(Encode(gray, "png"));
        Assert.Equal(new Rgb24(17, 17, 17), decoded[0, 0]);
        Assert.Equal(new Rgb24(250, 250, 250), decoded[1, 0]);
    }

    [Fact]
    public void SixteenBitColorKeepsTheHighByte()
    {
        using var wide = new Image<Rgb48>(1, 1);
        wide[0, 0] = new Rgb48(0x12FF, 0xAB01, 0x0080);
        using var decoded = Decoder.Decode(Encode(wide, "png", new PngEncoder { BitDepth = PngBitDepth.Bit16, ColorType = PngColorType.Rgb }));
        Assert.Equal(new Rgb24(0x12, 0xAB, 0x00), decoded[0, 0]);
    }

    [Fact]
    public void SixteenBitGrayIsClippedLikePilModeI16()
    {
        using var wide = new Image<L16>(2, 1);
        wide[0, 0] = new L16(200);
        wide[1, 0] = new L16(40000);
        using var decoded = Decoder.Decode(Encode(wide, "png", new PngEncoder { BitDepth = PngBitDepth.Bit16, ColorType = PngColorType.Grayscale }));
        Assert.Equal(new Rgb24(200, 200, 200), decoded[0, 0]);
        Assert.Equal(new Rgb24(255, 255, 255), decoded[1, 0]);
    }

    [Fact]
    public void PaletteIsExpanded()
    {
        using var image = Pattern(8, 8);
        var bytes = Encode(image, "png", new PngEncoder { ColorType = PngColorType.Palette, BitDepth = PngBitDepth.Bit8 });
        using var decoded = Decoder.Decode(bytes);
        using var reference = Image.Load<Rgb24>(bytes);
        for (var y = 0; y < 8; y++)
            for (var x = 0; x < 8; x++)
                Assert.Equal(reference[x, y], decoded[x, y]);
    }

    [Theory]
    [MemberData(nameof(LosslessFormats))]
    public void LosslessFormatsRoundTrip(string format)
    {
        using var image = Pattern(9, 7);
        using var decoded = Decoder.Decode(Encode(image, format), "x." + format);
        Assert.Equal(9, decoded.Width);
        Assert.Equal(7, decoded.Height);
        for (var y = 0; y < 7; y++)
            for (var x = 0; x < 9; x++)
                Assert.Equal(image[x, y], decoded[x, y]);
    }

    [Fact]
    public void JpegDecodes()
    {
        using var decoded = Decoder.Decode(Path.Combine(ImageGolden.Dir, "rocket.jpg"));
        Assert.Equal(640, decoded.Width);
        Assert.Equal(427, decoded.Height);
    }

    [Fact]
    public void ExifOrientationIsIgnoredUnlessAsked()
    {
        using var image = Pattern(8, 2);
        image.Metadata.ExifProfile = new SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifProfile();
        image.Metadata.ExifProfile.SetValue(SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifTag.Orientation, (ushort)6);
        var bytes = Encode(image, "jpg");
        using var asStored = Decoder.Decode(bytes);
        Assert.Equal((8, 2), (asStored.Width, asStored.Height));
        using var rotated = new ImageDecoder { ApplyExifOrientation = true }.Decode(bytes);
        Assert.Equal((2, 8), (rotated.Width, rotated.Height));
    }

    [Fact]
    public void GifGivesTheFirstFrame()
    {
        using var gif = new Image<Rgb24>(4, 4, new Rgb24(255, 0, 0));
        using var second = new Image<Rgb24>(4, 4, new Rgb24(0, 0, 255));
        gif.Frames.AddFrame(second.Frames.RootFrame);
        using var decoded = Decoder.Decode(Encode(gif, "gif"));
        Assert.Equal(new Rgb24(255, 0, 0), decoded[2, 2]);
    }

    [Fact]
    public void StreamsAndFilesDecodeLikeBytes()
    {
        var path = Path.Combine(ImageGolden.Dir, "small.png");
        using var fromFile = Decoder.Decode(path);
        using var stream = File.OpenRead(path);
        using var fromStream = Decoder.Decode(stream, "small.png");
        Assert.Equal(fromFile.Width, fromStream.Width);
        for (var y = 0; y < fromFile.Height; y++)
            Assert.True(fromFile.DangerousGetPixelRowMemory(y).Span.SequenceEqual(fromStream.DangerousGetPixelRowMemory(y).Span));
    }

    // ---------------------------------------------------------------- helpers

    public static IEnumerable<object[]> LosslessFormats() => new[] { "png", "bmp", "tiff", "webp" }.Select(f => new object[] { f });
    public static IEnumerable<object[]> EncodedFormats() => new[] { "png", "jpg", "gif", "bmp", "webp", "tiff" }.Select(f => new object[] { f });

    private static Image<Rgb24> Pattern(int width, int height)
    {
        var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                image[x, y] = new Rgb24((byte)(x * 29 + y), (byte)(y * 37), (byte)(x * y * 11 + 5));
        return image;
    }

    private static byte[] Encode(Image image, string format, IImageEncoder? encoder = null)
    {
        encoder ??= format switch
        {
            "png" => new PngEncoder(),
            "jpg" => new JpegEncoder { Quality = 90 },
            "gif" => new GifEncoder(),
            "bmp" => new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 },
            "tiff" => new TiffEncoder(),
            "webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
            _ => throw new ArgumentException(format),
        };
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    /// <summary>A PNG signature and a valid IHDR for the given size, and nothing else: what a decompression bomb's header looks like.</summary>
    private static byte[] PngWithHeaderOnly(int width, int height)
    {
        var ihdr = new byte[17];
        "IHDR"u8.CopyTo(ihdr);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(8), height);
        ihdr[12] = 8; // bit depth
        ihdr[13] = 2; // RGB
        var png = new List<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]);
        png.AddRange(ihdr);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(ihdr));
        png.AddRange(crc);
        return png.ToArray();
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
