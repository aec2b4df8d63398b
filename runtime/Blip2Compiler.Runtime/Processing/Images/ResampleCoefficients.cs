using System.Collections.Concurrent;

namespace Blip2Compiler.Processing;

/// <summary>
/// One axis of a resize: for each output index, the first input index, the number of taps, and fixed-point weights
/// with <see cref="Precision"/> fractional bits. Computed as PIL's <c>precompute_coeffs</c> and
/// <c>normalize_coeffs_8bpc</c> do, or as ATen's <c>_compute_index_ranges_int16_weights</c>.
/// Cached per (input size, output size, filter, backend): a batch of same-sized photos computes its tables once.
/// </summary>
internal sealed class ResampleCoefficients
{
    /// <summary>PIL: 32 bits minus 8 for the result and 2 for overflow of negative lobes.</summary>
    private const int PilPrecision = 32 - 8 - 2;

    private static readonly ConcurrentDictionary<(int, int, PilResample, ProcessingBackend), ResampleCoefficients> Cache = new();

    private ResampleCoefficients(int kernelSize, int precision, int[] start, int[] count, int[] weights)
    {
        KernelSize = kernelSize;
        Precision = precision;
        Start = start;
        Count = count;
        Weights = weights;
    }

    /// <summary>Stride of <see cref="Weights"/> per output index.</summary>
    public int KernelSize { get; }

    /// <summary>Fractional bits of the weights; sums start at half of one and are shifted right by this.</summary>
    public int Precision { get; }

    public int[] Start { get; }
    public int[] Count { get; }
    public int[] Weights { get; }

    /// <summary>First input index any output reads.</summary>
    public int FirstInput => Start[0];

    /// <summary>One past the last input index any output reads.</summary>
    public int EndInput => Start[^1] + Count[^1];

    public static ResampleCoefficients For(int inSize, int outSize, PilResample filter, ProcessingBackend backend)
    {
        // torchvision only has antialiased bilinear and bicubic; the other filters exist in PIL alone.
        if (filter is not (PilResample.Bilinear or PilResample.Bicubic)) backend = ProcessingBackend.Pil;
        // Bound the cache: sizes of arbitrary photos would otherwise accumulate forever.
        if (Cache.Count > 512) Cache.Clear();
        return Cache.GetOrAdd((inSize, outSize, filter, backend), key => Compute(key.Item1, key.Item2, key.Item3, key.Item4));
    }

    private static ResampleCoefficients Compute(int inSize, int outSize, PilResample resample, ProcessingBackend backend)
    {
        var filter = PilFilter.For(resample, backend);
        // PIL passes the box (0, inSize) as floats; the difference is exact, and equals ATen's double scale.
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = filter.Support * filterScale;
        var kernelSize = (int)Math.Ceiling(support) * 2 + 1;

        var start = new int[outSize];
        var count = new int[outSize];
        var normalized = new double[outSize * kernelSize];
        var largest = 0.0;
        for (var xx = 0; xx < outSize; xx++)
        {
            var center = (xx + 0.5) * scale;
            var ww = 0.0;
            var ss = 1.0 / filterScale;
            var xmin = Math.Max((int)(center - support + 0.5), 0);
            var xmax = Math.Clamp(Math.Min((int)(center + support + 0.5), inSize) - xmin, 0, kernelSize);
            var k = normalized.AsSpan(xx * kernelSize, kernelSize);
            for (var x = 0; x < xmax; x++)
            {
                var w = filter.Kernel((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            for (var x = 0; x < xmax; x++)
            {
                if (ww != 0.0) k[x] /= ww;
                largest = Math.Max(largest, k[x]);
            }
            start[xx] = xmin;
            count[xx] = xmax;
        }

        var precision = backend == ProcessingBackend.Pil ? PilPrecision : TorchPrecision(largest);
        var weights = new int[normalized.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var v = normalized[i] * (1 << precision);
            var rounded = v < 0 ? (int)(-0.5 + v) : (int)(0.5 + v);
            weights[i] = backend == ProcessingBackend.Pil ? rounded : (short)rounded;
        }
        return new ResampleCoefficients(kernelSize, precision, start, count, weights);
    }

    /// <summary>ATen: the most fractional bits (under 22) for which twice the largest weight still fits in int16.</summary>
    private static int TorchPrecision(double largestWeight)
    {
        int precision;
        for (precision = 0; precision < 22; precision++)
        {
            var next = (int)(0.5 + largestWeight * (1 << (precision + 1)));
            if (next >= 1 << 15) break;
        }
        return precision;
    }
}
