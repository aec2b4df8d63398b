using Blip2Compiler.Processing;
using SixLabors.ImageSharp;

namespace Blip2Compiler.Tests.Images;

/// <summary>
/// Compares preprocessing with the pixel values transformers computed for each image that the fixture's meta.json
/// lists, with the options it records.
/// </summary>
[Trait("Category", "Golden")]
public class ImageProcessorGoldenTests
{
    public static IEnumerable<object[]> FilesAndBackends() =>
        from file in ImageGolden.Files()
        from backend in new[] { ProcessingBackend.Torchvision, ProcessingBackend.Pil }
        select new object[] { file[0], backend };

    private static Blip2ImageProcessor Processor(ProcessingBackend backend) =>
        new(ImageProcessorConfig.FromJson(ImageGolden.ProcessorOptions(), "meta.json processor") with { Backend = backend });

    [Theory]
    [MemberData(nameof(FilesAndBackends))]
    public void PixelValuesMatchReference(string file, ProcessingBackend backend)
    {
        using var tensor = Processor(backend).Preprocess([ImageSource.FromFile(Path.Combine(ImageGolden.Dir, file))]);
        var (expected, shape) = ImageGolden.Expected.Float32("pixel_values." + file);
        Assert.Equal(shape, tensor.shape);
        Assert.Equal(TorchSharp.torch.float32, tensor.dtype);

        var (max, mean) = ImageGolden.Diff(tensor.data<float>().ToArray(), expected);
        var measured = $"{file} ({backend}): max abs diff {max:F5} (limit 0.031), mean {mean:E3} (limit 2E-4)";
        Assert.True(max <= 0.031 && mean <= 2e-4, measured);
    }

    /// <summary>ImageSharp's JPEG decoder (JpegBackend.ImageSharp) has its own IDCT and chroma upsampling: close to the
    /// reference, not equal.</summary>
    [Theory]
    [MemberData(nameof(JpegFiles))]
    public void ImageSharpJpegBackendStaysWithinTwoLevelsOnAverage(string file)
    {
        using var image = new ImageDecoder { Jpeg = JpegBackend.ImageSharp }.Decode(Path.Combine(ImageGolden.Dir, file));
        var actual = Processor(ProcessingBackend.Torchvision).PreprocessToArray(image);
        var (expected, _) = ImageGolden.Expected.Float32("pixel_values." + file);
        var (max, mean) = ImageGolden.Diff(actual, expected);
        Assert.True(max <= 0.062 && mean <= 5e-4, $"{file}: max abs diff {max:F5} (limit 0.062), mean {mean:E3} (limit 5E-4)");
    }

    public static IEnumerable<object[]> JpegFiles() => ImageGolden.Files().Where(f => ImageGolden.IsJpeg((string)f[0]));

    /// <summary>
    /// The reference (transformers 5) resizes with torchvision; with that backend every image (JPEGs too: they decode
    /// to PIL's pixels) must come out the same to float32 rounding, so any off-by-one in the ported arithmetic shows.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllFiles))]
    public void TorchvisionBackendReproducesEveryImageExactly(string file)
    {
        using var image = ImageDecoder.Default.Decode(Path.Combine(ImageGolden.Dir, file));
        var actual = Processor(ProcessingBackend.Torchvision).PreprocessToArray(image);
        var (expected, _) = ImageGolden.Expected.Float32("pixel_values." + file);
        var (max, mean) = ImageGolden.Diff(actual, expected);
        Assert.True(max <= 1e-6, $"{file}: max abs diff {max:E3}, mean {mean:E3}; expected float32 rounding only");
    }

    public static IEnumerable<object[]> AllFiles() => ImageGolden.Files();
}
