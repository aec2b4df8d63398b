using Blip2Compiler.Processing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Tests.Images;

public class Blip2ImageProcessorTests
{
    private static string Fixture(string file) => Path.Combine(ImageGolden.Dir, file);

    [Fact]
    public void BatchStacksImagesInOrder()
    {
        var processor = new Blip2ImageProcessor();
        var files = new[] { "small.png", "rocket.jpg", "xor_gray.png" };
        using var batch = processor.Preprocess(files.Select(f => ImageSource.FromFile(Fixture(f))).ToList());
        Assert.Equal(new long[] { 3, 3, 224, 224 }, batch.shape);
        var data = batch.data<float>().ToArray();
        for (var i = 0; i < files.Length; i++)
        {
            using var image = processor.Decoder.Decode(Fixture(files[i]));
            var single = processor.PreprocessToArray(image);
            Assert.True(data.AsSpan(i * single.Length, single.Length).SequenceEqual(single), files[i]);
        }
    }

    [Fact]
    public void SourcesFromBytesAndDecodedImagesAgreeWithFiles()
    {
        var processor = new Blip2ImageProcessor();
        var path = Fixture("noise_rgba.png");
        using var rgba = Image.Load<Rgba32>(path);
        using var rgb = processor.Decoder.Decode(path);
        using var batch = processor.Preprocess([
            ImageSource.FromFile(path),
            ImageSource.FromBytes(File.ReadAllBytes(path), "noise"),
            ImageSource.FromImage(rgba),      // converted, alpha dropped
            rgb,                              // used as is, stays the caller's
        ]);
        var data = batch.data<float>().ToArray();
        var plane = 3 * 224 * 224;
        for (var i = 1; i < 4; i++)
            Assert.True(data.AsSpan(i * plane, plane).SequenceEqual(data.AsSpan(0, plane)), $"source {i}");
        Assert.Equal(160, rgb.Width); // not disposed
    }

    [Fact]
    public void FirstFailingImageInListOrderIsReported()
    {
        var processor = new Blip2ImageProcessor();
        var e = Assert.Throws<ImageDecodeException>(() => processor.Preprocess([
            ImageSource.FromFile(Fixture("small.png")),
            ImageSource.FromBytes(new byte[] { 1, 2, 3 }, "second"),
            ImageSource.FromBytes(Array.Empty<byte>(), "third"),
        ]));
        Assert.Equal("second", e.ImageName);
    }

    [Fact]
    public void ShortestEdgeBatchOfDifferentShapesIsATypedError()
    {
        var processor = new Blip2ImageProcessor(ImageProcessorConfig.Default with { Height = null, Width = null, ShortestEdge = 32 });
        using var one = processor.Preprocess(ImageSource.FromFile(Fixture("small.png")));
        Assert.Equal(new long[] { 1, 3, 32, 40 }, one.shape);
        var e = Assert.Throws<Blip2Exception>(() => processor.Preprocess([Fixture("small.png"), Fixture("xor_gray.png")]));
        Assert.Contains("same size", e.Message);
    }

    [Fact]
    public void RescaleAndNormalizeFollowTheConfig()
    {
        using var image = new Image<Rgb24>(2, 2, new Rgb24(0, 51, 255));
        var config = ImageProcessorConfig.Default with { DoResize = false, ImageMean = [0.5f, 0.5f, 0.5f], ImageStd = [0.5f, 0.5f, 0.5f] };
        foreach (var backend in new[] { ProcessingBackend.Torchvision, ProcessingBackend.Pil })
        {
            var values = new Blip2ImageProcessor(config with { Backend = backend }).PreprocessToArray(image);
            Assert.Equal(12, values.Length);
            Assert.Equal(-1f, values[0], 6);     // R plane
            Assert.Equal(-0.6f, values[4], 6);   // G plane: 51/255 = 0.2
            Assert.Equal(1f, values[8], 6);      // B plane
        }
        var raw = new Blip2ImageProcessor(config with { DoRescale = false, DoNormalize = false }).PreprocessToArray(image);
        Assert.Equal([0f, 0f, 0f, 0f, 51f, 51f, 51f, 51f, 255f, 255f, 255f, 255f], raw);
    }

    [Fact]
    public void LoadReadsTheCheckpointFolder()
    {
        var dir = Directory.CreateTempSubdirectory("blip2-ckpt-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "preprocessor_config.json"), """{"size": {"height": 32, "width": 48}}""");
            var processor = Blip2ImageProcessor.Load(dir);
            using var tensor = processor.Preprocess(ImageSource.FromFile(Fixture("small.png")));
            Assert.Equal(new long[] { 1, 3, 32, 48 }, tensor.shape);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
