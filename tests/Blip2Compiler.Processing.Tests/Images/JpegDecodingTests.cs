using System.Security.Cryptography;
using Blip2Compiler.Processing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Tests.Images;

/// <summary>
/// JPEG pixels as PIL decodes them (libjpeg-turbo with its defaults), for every chroma layout libjpeg-turbo upsamples
/// differently. Data/jpeg/*.jpg and their *.rgb were made by Data/jpeg/make_jpeg_cases.c with libjpeg-turbo 2.1.5;
/// the photos' RGB digests come from the same decoder.
/// </summary>
public class JpegDecodingTests
{
    private static readonly string CaseDir = Path.Combine(AppContext.BaseDirectory, "Images", "Data", "jpeg");

    public static TheoryData<string> Cases() =>
        [.. Directory.GetFiles(CaseDir, "*.jpg").Select(f => Path.GetFileNameWithoutExtension(f)).Order()];

    private static byte[] Rgb(Image<Rgb24> image)
    {
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(bytes);
        return bytes;
    }

    private static string Compare(byte[] actual, byte[] expected)
    {
        if (actual.Length != expected.Length) return $"{actual.Length} bytes, expected {expected.Length}";
        int max = 0, differing = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var d = Math.Abs(actual[i] - expected[i]);
            if (d > 0) differing++;
            max = Math.Max(max, d);
        }
        return differing == 0 ? "" : $"{differing} of {actual.Length} values differ, by up to {max}";
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecodesAsLibjpegTurbo(string name)
    {
        using var image = ImageDecoder.Default.Decode(Path.Combine(CaseDir, name + ".jpg"));
        Assert.Equal("", Compare(Rgb(image), File.ReadAllBytes(Path.Combine(CaseDir, name + ".rgb"))));
    }

    [Theory]
    [InlineData("more/grace_hopper.jpg", "f7f982de68dd296af67ee51b2a95a2e5658f7bf064c6536520b66bae8d01fc34")]   // 4:2:0
    [InlineData("more/hubble_deep_field.jpg", "9a3ea9548188f81e63435188456e74de45a981ebeb791e265abe79a26d3b528b")]
    [InlineData("rocket.jpg", "3d4435cc745752b7f9724df88c6e18817de3ce7e3d2d71c55f85f7831e68f197")]
    public void PhotosDecodeToLibjpegTurbosPixels(string file, string sha256)
    {
        using var image = ImageDecoder.Default.Decode(Path.Combine(ImageGolden.Dir, file));
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(Rgb(image))));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheImageSharpBackendGivesImageSharpsPixels(string name)
    {
        var path = Path.Combine(CaseDir, name + ".jpg");
        using var image = new ImageDecoder { Jpeg = JpegBackend.ImageSharp }.Decode(path);
        using var imageSharp = Image.Load<Rgb24>(path);
        Assert.Equal(Rgb(imageSharp), Rgb(image));
        // Its chroma upsampling is not libjpeg-turbo's: 4:2:0 files wider than two chroma samples come out different.
        if (name is "s420" or "progressive420" or "restart420")
            Assert.NotEqual("", Compare(Rgb(image), File.ReadAllBytes(Path.Combine(CaseDir, name + ".rgb"))));
    }

    [Fact]
    public void AFileWithTooManyScansIsRefusedBeforeDecoding()
    {
        var bytes = File.ReadAllBytes(Path.Combine(CaseDir, "progressive420.jpg"));
        var decoder = new ImageDecoder(new ImageLimits { MaxJpegScans = 5 });
        var error = Assert.Throws<ImageTooLargeException>(() => decoder.Decode(bytes, "many-scans.jpg"));
        Assert.Contains("scans, more than the limit of 5", error.Message);
        // The default limit leaves real progressive files alone.
        using var image = ImageDecoder.Default.Decode(bytes);
        Assert.Equal(67, image.Width);
    }

    [Fact]
    public void CorruptEntropyDataIsADecodeError()
    {
        var bytes = File.ReadAllBytes(Path.Combine(CaseDir, "s420.jpg"));
        // Overwrite the Huffman table definition with garbage: libjpeg stops with a fatal error.
        var dht = Enumerable.Range(0, bytes.Length - 1).First(i => bytes[i] == 0xFF && bytes[i + 1] == 0xC4);
        for (var i = dht + 4; i < dht + 40; i++) bytes[i] = 0xFF;
        var error = Assert.ThrowsAny<Blip2Exception>(() => ImageDecoder.Default.Decode(bytes, "broken.jpg"));
        Assert.Contains("broken.jpg", error.Message);
    }
}
