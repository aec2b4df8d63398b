using Blip2Compiler.Processing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// BLIP-2 image preprocessing of 640×480 JPEGs made in memory: decode, resize to 224×224, normalize. Reports
/// images/s for the resize stage alone (the PIL port vs ImageSharp's own bicubic), decoding alone (PIL's pixels, the
/// default, vs ImageSharp's decoder), and the whole pipeline on one thread and as a parallel batch.
/// </summary>
public sealed class PreprocessBenchmark : IBenchmark
{
    private const int Width = 640, Height = 480, Count = 16;

    public string Name => "preprocess";
    public string Description => "decode + resize 640x480 JPEG to 224x224 + normalize (images/s)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        var jpegs = Enumerable.Range(0, Count).Select(MakeJpeg).ToArray();
        var decoded = jpegs.Select(j => ImageDecoder.Default.Decode(j)).ToArray();
        var single = new Blip2ImageProcessor { MaxDegreeOfParallelism = 1 };
        var parallel = new Blip2ImageProcessor { MaxDegreeOfParallelism = options.Threads };
        var sources = jpegs.Select(j => ImageSource.FromBytes(j)).ToList();
        var output = new float[3 * 224 * 224];
        var pixels = new byte[224 * 224 * 3];
        var next = 0;

        void Emit(string @case, int threads, Measure.Rate r) =>
            report.Result(Name, @case, ("threads", threads), ("images_per_s", r.ItemsPerSecond), ("ms_per_image", r.MillisecondsPerItem),
                ("cpu_ms_per_image", r.CpuMillisecondsPerItem),
                ("best_ms_per_image", r.BestMillisecondsPerItem), ("images", r.Items), ("input", $"{Width}x{Height} jpeg"), ("output", "224x224"));

        foreach (var backend in new[] { ProcessingBackend.Torchvision, ProcessingBackend.Pil })
        {
            Emit($"resize_port_{backend.ToString().ToLowerInvariant()}", 1, Measure.Throughput(
                () => PilResampler.Resize(decoded[next++ % Count], 224, 224, PilResample.Bicubic, backend, pixels), 1, options.SecondsPerCase));
        }
        Emit("resize_imagesharp_bicubic", 1, Measure.Throughput(() =>
        {
            using var resized = decoded[next++ % Count].Clone(x => x.Resize(new ResizeOptions
            {
                Size = new Size(224, 224), Mode = ResizeMode.Stretch, Sampler = KnownResamplers.Bicubic,
            }));
        }, 1, options.SecondsPerCase));
        Emit("resize_normalize", 1, Measure.Throughput(
            () => single.PreprocessInto(decoded[next++ % Count], output), 1, options.SecondsPerCase));
        foreach (var jpeg in new[] { JpegBackend.Pil, JpegBackend.ImageSharp })
        {
            var decoder = new ImageDecoder { Jpeg = jpeg };
            Emit($"decode_{jpeg.ToString().ToLowerInvariant()}", 1, Measure.Throughput(() =>
            {
                using var image = decoder.Decode(jpegs[next++ % Count]);
            }, 1, options.SecondsPerCase));
        }
        Emit("end_to_end_single", 1, Measure.Throughput(() =>
        {
            using var tensor = single.Preprocess(sources[next++ % Count]);
        }, 1, options.SecondsPerCase));
        Emit($"end_to_end_batch{Count}", options.Threads, Measure.Throughput(() =>
        {
            using var tensor = parallel.Preprocess(sources);
        }, Count, options.SecondsPerCase));

        foreach (var image in decoded) image.Dispose();
    }

    /// <summary>A smooth gradient with noise and a few edges: compresses like a photo, not like a flat test card.</summary>
    private static byte[] MakeJpeg(int seed)
    {
        var random = new Random(seed);
        using var image = new Image<Rgb24>(Width, Height);
        for (var y = 0; y < Height; y++)
        {
            for (var x = 0; x < Width; x++)
            {
                var edge = ((x / 40) + (y / 40) + seed) % 2 == 0 ? 40 : 0;
                image[x, y] = new Rgb24(
                    (byte)Math.Clamp(x * 255 / Width + random.Next(-12, 13) - edge / 2, 0, 255),
                    (byte)Math.Clamp(y * 255 / Height + random.Next(-12, 13) + edge / 2, 0, 255),
                    (byte)Math.Clamp((x + y + seed * 16) % 256 + random.Next(-12, 13), 0, 255));
            }
        }
        using var stream = new MemoryStream();
        image.SaveAsJpeg(stream, new JpegEncoder { Quality = 90 });
        return stream.ToArray();
    }
}
