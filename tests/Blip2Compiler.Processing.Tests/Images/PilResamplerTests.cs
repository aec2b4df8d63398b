using Blip2Compiler.Processing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Tests.Images;

public class PilResamplerTests
{
    public static IEnumerable<object[]> Cases() =>
        from backend in new[] { ProcessingBackend.Pil, ProcessingBackend.Torchvision }
        from filter in new[] { PilResample.Bicubic, PilResample.Bilinear, PilResample.Lanczos, PilResample.Box, PilResample.Hamming }
        from size in new[] { (64, 48, 224, 224), (640, 480, 224, 224), (300, 200, 300, 100), (50, 40, 50, 40), (7, 300, 224, 13) }
        select new object[] { backend, filter, size.Item1, size.Item2, size.Item3, size.Item4 };

    /// <summary>
    /// Within one level of an independent double-precision evaluation of the same separable convolution (with the
    /// same 8-bit rounding between passes, done here in double): catches wrong bounds, centers and kernels.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesDoublePrecisionConvolutionWithinOneLevel(ProcessingBackend backend, PilResample filter, int w, int h, int ow, int oh)
    {
        using var image = Noise(w, h, seed: w * 31 + h);
        var actual = new byte[ow * oh * 3];
        PilResampler.Resize(image, ow, oh, filter, backend, actual);

        var source = new byte[w * h * 3];
        image.CopyPixelDataTo(source);
        var horizontal = ow == w ? source : Convolve(source, w, h, ow, filter, horizontalPass: true);
        var expected = oh == h ? horizontal : Convolve(horizontal, ow, h, oh, filter, horizontalPass: false);

        var worst = 0;
        var off = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var d = Math.Abs(actual[i] - expected[i]);
            worst = Math.Max(worst, d);
            if (d > 0) off++;
        }
        // Fixed-point weights round exact halves differently (bilinear upscales are full of them), and the 8-bit
        // rounding after the first pass can carry a one-level difference through negative lobes.
        Assert.True(worst <= 2 && off <= actual.Length / 10, $"{backend} {filter} {w}x{h}->{ow}x{oh}: worst {worst}, {off} of {actual.Length} off");
    }

    [Fact]
    public void SameSizeIsACopy()
    {
        using var image = Noise(33, 21, seed: 1);
        using var resized = PilResampler.Resize(image, 33, 21);
        for (var y = 0; y < 21; y++)
            for (var x = 0; x < 33; x++)
                Assert.Equal(image[x, y], resized[x, y]);
    }

    [Theory]
    [InlineData(ProcessingBackend.Pil)]
    [InlineData(ProcessingBackend.Torchvision)]
    public void FlatColorStaysFlat(ProcessingBackend backend)
    {
        using var image = new Image<Rgb24>(97, 61, new Rgb24(3, 128, 252));
        foreach (var (ow, oh) in new[] { (224, 224), (10, 7), (300, 20) })
        {
            using var resized = PilResampler.Resize(image, ow, oh, PilResample.Bicubic, backend);
            for (var y = 0; y < oh; y++)
                for (var x = 0; x < ow; x++)
                    Assert.Equal(new Rgb24(3, 128, 252), resized[x, y]);
        }
    }

    [Fact]
    public void RejectsEmptyOutputAndShortDestination()
    {
        using var image = Noise(8, 8, seed: 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => PilResampler.Resize(image, 0, 4));
        Assert.Throws<ArgumentException>(() => PilResampler.Resize(image, 4, 4, PilResample.Bicubic, ProcessingBackend.Pil, new byte[10]));
    }

    private static Image<Rgb24> Noise(int w, int h, int seed)
    {
        var bytes = new byte[w * h * 3];
        new Random(seed).NextBytes(bytes);
        return Image.LoadPixelData<Rgb24>(bytes, w, h);
    }

    /// <summary>PIL's definition written plainly: double weights, round half up, clip.</summary>
    private static byte[] Convolve(byte[] src, int w, int h, int outSize, PilResample filter, bool horizontalPass)
    {
        var inSize = horizontalPass ? w : h;
        var (kernel, support0) = Kernel(filter);
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = support0 * filterScale;
        var (ow, oh) = horizontalPass ? (outSize, h) : (w, outSize);
        var dst = new byte[ow * oh * 3];
        for (var o = 0; o < outSize; o++)
        {
            var center = (o + 0.5) * scale;
            var lo = Math.Max((int)(center - support + 0.5), 0);
            var hi = Math.Min((int)(center + support + 0.5), inSize);
            var weights = Enumerable.Range(lo, hi - lo).Select(i => kernel((i - center + 0.5) / filterScale)).ToArray();
            var total = weights.Sum();
            var lines = horizontalPass ? h : w;
            for (var line = 0; line < lines; line++)
                for (var c = 0; c < 3; c++)
                {
                    double sum = 0;
                    for (var i = lo; i < hi; i++)
                    {
                        var index = horizontalPass ? (line * w + i) * 3 + c : (i * w + line) * 3 + c;
                        sum += src[index] * weights[i - lo] / total;
                    }
                    var target = horizontalPass ? (line * ow + o) * 3 + c : (o * ow + line) * 3 + c;
                    dst[target] = (byte)Math.Clamp(Math.Floor(sum + 0.5), 0, 255);
                }
        }
        return dst;
    }

    private static (Func<double, double>, double) Kernel(PilResample filter) => filter switch
    {
        PilResample.Bicubic => (x =>
        {
            x = Math.Abs(x);
            return x < 1 ? 1.5 * x * x * x - 2.5 * x * x + 1 : x < 2 ? -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2 : 0;
        }, 2.0),
        PilResample.Bilinear => (x => Math.Max(0, 1 - Math.Abs(x)), 1.0),
        PilResample.Box => (x => x > -0.5 && x <= 0.5 ? 1 : 0, 0.5),
        PilResample.Hamming => (x =>
        {
            x = Math.Abs(x);
            if (x == 0) return 1;
            if (x >= 1) return 0;
            x *= Math.PI;
            return Math.Sin(x) / x * (0.54 + 0.46 * Math.Cos(x));
        }, 1.0),
        PilResample.Lanczos => (x =>
        {
            static double Sinc(double v) => v == 0 ? 1 : Math.Sin(v * Math.PI) / (v * Math.PI);
            return x >= -3 && x < 3 ? Sinc(x) * Sinc(x / 3) : 0;
        }, 3.0),
        _ => throw new ArgumentException(filter.ToString()),
    };
}
