using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Images;

public sealed class ImageProcessorConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("blip2-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void MissingFileGivesBlip2Defaults()
    {
        var config = ImageProcessorConfig.Load(_dir);
        Assert.Same(ImageProcessorConfig.Default, config);
        Assert.Equal((224, 224), (config.Height, config.Width));
        Assert.Equal(PilResample.Bicubic, config.Resample);
        Assert.Equal(1.0 / 255, config.RescaleFactor, 15);
        Assert.Equal([0.48145466f, 0.4578275f, 0.40821073f], config.ImageMean);
        Assert.Equal([0.26862954f, 0.26130258f, 0.27577711f], config.ImageStd);
        Assert.True(config.DoResize && config.DoRescale && config.DoNormalize && config.DoConvertRgb);
    }

    [Fact]
    public void ReadsPreprocessorConfig()
    {
        File.WriteAllText(Path.Combine(_dir, "preprocessor_config.json"), """
            {
              "do_convert_rgb": true, "do_normalize": false, "do_rescale": true, "do_resize": true,
              "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "BlipImageProcessor",
              "image_std": [0.25, 0.5, 1.0], "processor_class": "Blip2Processor",
              "resample": 2, "rescale_factor": 0.5, "size": {"height": 364, "width": 300}
            }
            """);
        var config = ImageProcessorConfig.Load(_dir);
        Assert.Equal((364, 300), (config.Height, config.Width));
        Assert.Equal(PilResample.Bilinear, config.Resample);
        Assert.False(config.DoNormalize);
        Assert.Equal(0.5, config.RescaleFactor);
        Assert.Equal([0.25f, 0.5f, 1.0f], config.ImageStd);
    }

    [Fact]
    public void ReadsImageProcessorSectionOfProcessorConfig()
    {
        File.WriteAllText(Path.Combine(_dir, "processor_config.json"), """
            {"processor_class": "Blip2Processor", "num_query_tokens": 32,
             "image_processor": {"size": {"shortest_edge": 256}, "image_mean": 0.5}}
            """);
        var config = ImageProcessorConfig.Load(_dir);
        Assert.Equal(256, config.ShortestEdge);
        Assert.Null(config.Height);
        Assert.Equal([0.5f, 0.5f, 0.5f], config.ImageMean);
    }

    [Fact]
    public void PreprocessorConfigWinsOverProcessorConfig()
    {
        File.WriteAllText(Path.Combine(_dir, "processor_config.json"), """{"image_processor": {"size": 100}}""");
        File.WriteAllText(Path.Combine(_dir, "preprocessor_config.json"), """{"size": 200}""");
        Assert.Equal(200, ImageProcessorConfig.Load(_dir).Height);
    }

    [Fact]
    public void MalformedJsonNamesTheFile()
    {
        var path = Path.Combine(_dir, "preprocessor_config.json");
        File.WriteAllText(path, """{"size": {"height": 224,""");
        var e = Assert.Throws<ImageProcessorConfigException>(() => ImageProcessorConfig.Load(_dir));
        Assert.Equal(path, e.File);
        Assert.Contains("malformed JSON", e.Message);
        Assert.IsAssignableFrom<Blip2Exception>(e);
    }

    [Theory]
    [InlineData("""{"do_resize": "yes"}""", "do_resize")]
    [InlineData("""{"resample": 0}""", "resample")]
    [InlineData("""{"resample": 7}""", "resample")]
    [InlineData("""{"image_mean": [0.5, 0.5]}""", "image_mean")]
    [InlineData("""{"image_std": [0.5, 0, 0.5]}""", "image_std")]
    [InlineData("""{"size": {"height": -3, "width": 4}}""", "size.height")]
    [InlineData("""{"size": {"longest_edge": 4}}""", "size")]
    [InlineData("""{"rescale_factor": "1/255"}""", "rescale_factor")]
    [InlineData("""[1, 2]""", "JSON object")]
    public void InvalidOptionsAreNamed(string json, string named)
    {
        var path = Path.Combine(_dir, "preprocessor_config.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<ImageProcessorConfigException>(() => ImageProcessorConfig.Load(_dir));
        Assert.Contains(named, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void ShortestEdgeKeepsAspectRatioTruncatingTheLongSide()
    {
        var processor = new Blip2ImageProcessor(ImageProcessorConfig.Default with { Height = null, Width = null, ShortestEdge = 224 });
        Assert.Equal((224, 336), processor.OutputSize(480, 720));
        Assert.Equal((298, 224), processor.OutputSize(400, 300)); // 224 * 400 / 300 = 298.67
        Assert.Equal((224, 224), new Blip2ImageProcessor().OutputSize(480, 720));
        Assert.Equal((480, 720), new Blip2ImageProcessor(ImageProcessorConfig.Default with { DoResize = false }).OutputSize(480, 720));
    }
}
