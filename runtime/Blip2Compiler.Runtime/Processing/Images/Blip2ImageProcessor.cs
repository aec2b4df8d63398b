using System.Buffers;
using System.Runtime.ExceptionServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

namespace Blip2Compiler.Processing;

/// <summary>
/// Hugging Face's <c>BlipImageProcessor</c>: convert to RGB, resize the 8-bit image with PIL's antialiased filter
/// (in torchvision's or PIL's arithmetic, <see cref="ImageProcessorConfig.Backend"/>), rescale, normalize, and
/// lay out as float32 CHW. Same resized bytes as <c>processor(images, return_tensors="pt").pixel_values</c> for PNG
/// input; JPEG differs only by the decoders (ImageSharp vs libjpeg-turbo).
/// </summary>
public sealed class Blip2ImageProcessor
{
    /// <summary>Per channel, the float32 output for each of the 256 input levels: rescale and normalize are pointwise.</summary>
    private readonly float[][] _levels;

    public Blip2ImageProcessor(ImageProcessorConfig? config = null, ImageDecoder? decoder = null)
    {
        Config = config ?? ImageProcessorConfig.Default;
        Decoder = decoder ?? ImageDecoder.Default;
        if (Config.DoResize && Config.Resample == PilResample.Nearest)
            throw new ImageProcessorConfigException("<config>", "resample = 0 (nearest) is not supported");
        _levels = [Levels(0), Levels(1), Levels(2)];
    }

    /// <summary>Reads the checkpoint's processor config (BLIP-2 defaults when it has none).</summary>
    public static Blip2ImageProcessor Load(string checkpointDir, ImageDecoder? decoder = null) =>
        new(ImageProcessorConfig.Load(checkpointDir), decoder);

    public ImageProcessorConfig Config { get; }
    public ImageDecoder Decoder { get; }

    /// <summary>Threads used across the images of a batch; -1 for all cores.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>The (height, width) an input of the given size comes out as.</summary>
    public (int Height, int Width) OutputSize(int height, int width)
    {
        if (!Config.DoResize) return (height, width);
        if (Config.ShortestEdge is not { } edge) return (Config.Height!.Value, Config.Width!.Value);
        // HF get_resize_output_image_size(default_to_square=False): the long side is truncated, not rounded.
        var (shortSide, longSide) = width <= height ? (width, height) : (height, width);
        var newLong = (int)((long)edge * longSide / (double)shortSide);
        return width <= height ? (newLong, edge) : (edge, newLong);
    }

    /// <summary>One image as float32 [3, H, W] in row-major order.</summary>
    public float[] PreprocessToArray(Image<Rgb24> image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var (h, w) = OutputSize(image.Height, image.Width);
        var result = new float[3 * h * w];
        PreprocessInto(image, result);
        return result;
    }

    /// <summary>Writes one image as float32 [3, H, W] into <paramref name="destination"/>.</summary>
    public void PreprocessInto(Image<Rgb24> image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        var (h, w) = OutputSize(image.Height, image.Width);
        var plane = h * w;
        if (destination.Length < 3 * plane)
            throw new ArgumentException($"destination holds {destination.Length} floats, [3, {h}, {w}] needs {3 * plane}", nameof(destination));

        var rgb = ArrayPool<byte>.Shared.Rent(plane * 3);
        try
        {
            var pixels = rgb.AsSpan(0, plane * 3);
            if (h == image.Height && w == image.Width)
                image.CopyPixelDataTo(pixels);
            else
                PilResampler.Resize(image, w, h, Config.Resample, Config.Backend, pixels);

            var (r, g, b) = (_levels[0], _levels[1], _levels[2]);
            var red = destination[..plane];
            var green = destination.Slice(plane, plane);
            var blue = destination.Slice(2 * plane, plane);
            for (int i = 0, p = 0; i < plane; i++, p += 3)
            {
                red[i] = r[pixels[p]];
                green[i] = g[pixels[p + 1]];
                blue[i] = b[pixels[p + 2]];
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgb);
        }
    }

    /// <summary>One image as a float32 tensor [1, 3, H, W].</summary>
    public torch.Tensor Preprocess(ImageSource image) => Preprocess([image]);

    /// <summary>
    /// A batch as a float32 tensor [B, 3, H, W] on the CPU. Images are decoded and resized in parallel; the first
    /// failing image (in list order) raises its <see cref="ImageDecodeException"/>.
    /// </summary>
    public torch.Tensor Preprocess(IReadOnlyList<ImageSource> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("no images to preprocess", nameof(images));

        var outputs = new float[images.Count][];
        var sizes = new (int Height, int Width)[images.Count];
        var failures = new Exception?[images.Count];
        Parallel.For(0, images.Count, new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism }, i =>
        {
            try
            {
                var image = images[i].Open(Decoder, out var owned);
                try
                {
                    sizes[i] = OutputSize(image.Height, image.Width);
                    outputs[i] = PreprocessToArray(image);
                }
                finally
                {
                    if (owned) image.Dispose();
                }
            }
            catch (Exception e)
            {
                failures[i] = e;
            }
        });
        if (failures.FirstOrDefault(e => e is not null) is { } failure) ExceptionDispatchInfo.Throw(failure);

        var (height, width) = sizes[0];
        for (var i = 1; i < sizes.Length; i++)
        {
            if (sizes[i] != sizes[0])
                throw new Blip2Exception($"images in a batch must come out the same size: {images[0].Name} is {height}×{width}, "
                    + $"{images[i].Name} is {sizes[i].Height}×{sizes[i].Width} (size.shortest_edge keeps the aspect ratio; preprocess them separately)");
        }

        var plane = 3 * height * width;
        var batch = new float[images.Count * plane];
        for (var i = 0; i < outputs.Length; i++) outputs[i].CopyTo(batch, i * plane);
        return torch.tensor(batch, [images.Count, 3, height, width], torch.float32);
    }

    /// <summary>The float32 output for each 8-bit level, rounded step by step as the backend rounds.</summary>
    private float[] Levels(int channel)
    {
        var levels = new float[256];
        float mean = Config.ImageMean[channel], std = Config.ImageStd[channel];
        if (Config.Backend == ProcessingBackend.Torchvision && Config.DoRescale && Config.DoNormalize)
        {
            // HF fast processors fuse the two: (v - mean / factor) / (std / factor), the scaling done on float32 tensors.
            var inverse = (float)(1.0 / Config.RescaleFactor);
            float scaledMean = mean * inverse, scaledStd = std * inverse;
            for (var v = 0; v < 256; v++) levels[v] = (v - scaledMean) / scaledStd;
            return levels;
        }
        for (var v = 0; v < 256; v++)
        {
            // numpy: rescale in float64 then cast to float32; normalize in float32.
            var x = Config.DoRescale ? (float)(v * Config.RescaleFactor) : v;
            if (Config.DoNormalize) x = (x - mean) / std;
            levels[v] = x;
        }
        return levels;
    }
}
