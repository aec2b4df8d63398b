using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Processing;

/// <summary>
/// A port of PIL's <c>ImagingResample</c> for 8-bit RGB (libImaging/Resample.c): separable convolution, horizontal
/// pass then vertical pass, each with fixed-point weights and a round-and-clip to 8 bits, and a kernel widened by the
/// scale factor when shrinking (antialiasing). Gives the same bytes as <c>Image.resize((w, h), filter)</c>, or, with
/// <see cref="ProcessingBackend.Torchvision"/>, as torchvision's <c>resize(uint8_tensor, antialias=True)</c>.
/// </summary>
public static class PilResampler
{
    /// <summary>Resizes to a new image.</summary>
    public static Image<Rgb24> Resize(Image<Rgb24> source, int width, int height,
        PilResample filter = PilResample.Bicubic, ProcessingBackend backend = ProcessingBackend.Pil)
    {
        ArgumentNullException.ThrowIfNull(source);
        var result = new Image<Rgb24>(source.GetConfiguration(), width, height);
        var pixels = new byte[width * height * 3];
        Resize(source, width, height, filter, backend, pixels);
        for (var y = 0; y < height; y++)
            MemoryMarshal.Cast<byte, Rgb24>(pixels.AsSpan(y * width * 3, width * 3)).CopyTo(result.DangerousGetPixelRowMemory(y).Span);
        return result;
    }

    /// <summary>Resizes into <paramref name="destination"/>: <paramref name="height"/> rows of interleaved RGB bytes.</summary>
    public static void Resize(Image<Rgb24> source, int width, int height, PilResample filter, ProcessingBackend backend, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"output size must be positive, got {width}×{height}");
        if (destination.Length < width * height * 3)
            throw new ArgumentException($"destination holds {destination.Length} bytes, {width}×{height} RGB needs {width * height * 3}", nameof(destination));

        var vertical = ResampleCoefficients.For(source.Height, height, filter, backend);
        var first = vertical.FirstInput;
        var rows = vertical.EndInput - first;
        var tempStride = width * 3;

        // Horizontal pass over only the input rows the vertical pass reads (as PIL), into a temporary 8-bit image.
        var temp = ArrayPool<byte>.Shared.Rent(tempStride * rows);
        try
        {
            if (width != source.Width)
            {
                var horizontal = ResampleCoefficients.For(source.Width, width, filter, backend);
                for (var y = 0; y < rows; y++)
                    ResampleRow(SourceRow(source, first + y), temp.AsSpan(y * tempStride, tempStride), horizontal);
            }
            else
            {
                for (var y = 0; y < rows; y++)
                    SourceRow(source, first + y).CopyTo(temp.AsSpan(y * tempStride, tempStride));
            }

            if (height != source.Height)
                ResampleColumns(temp.AsSpan(0, tempStride * rows), tempStride, first, destination, height, vertical);
            else
                temp.AsSpan(0, tempStride * height).CopyTo(destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(temp);
        }
    }

    private static ReadOnlySpan<byte> SourceRow(Image<Rgb24> image, int y) =>
        MemoryMarshal.AsBytes(image.DangerousGetPixelRowMemory(y).Span);

    /// <summary>PIL's ImagingResampleHorizontal_8bpc for three bands.</summary>
    private static void ResampleRow(ReadOnlySpan<byte> input, Span<byte> output, ResampleCoefficients c)
    {
        ref var src = ref MemoryMarshal.GetReference(input);
        ref var dst = ref MemoryMarshal.GetReference(output);
        ref var weights = ref MemoryMarshal.GetArrayDataReference(c.Weights);
        var outWidth = output.Length / 3;
        var half = 1 << (c.Precision - 1);
        var precision = c.Precision;
        for (var xx = 0; xx < outWidth; xx++)
        {
            ref var k = ref Unsafe.Add(ref weights, xx * c.KernelSize);
            ref var p = ref Unsafe.Add(ref src, c.Start[xx] * 3);
            int s0 = half, s1 = half, s2 = half;
            var taps = c.Count[xx];
            for (var x = 0; x < taps; x++)
            {
                var w = Unsafe.Add(ref k, x);
                s0 += Unsafe.Add(ref p, 3 * x) * w;
                s1 += Unsafe.Add(ref p, 3 * x + 1) * w;
                s2 += Unsafe.Add(ref p, 3 * x + 2) * w;
            }
            Unsafe.Add(ref dst, 3 * xx) = Clip8(s0, precision);
            Unsafe.Add(ref dst, 3 * xx + 1) = Clip8(s1, precision);
            Unsafe.Add(ref dst, 3 * xx + 2) = Clip8(s2, precision);
        }
    }

    /// <summary>
    /// PIL's ImagingResampleVertical_8bpc. Each output row accumulates whole input rows: the integer sums are the same
    /// as PIL's per-pixel loop, and a row at a time vectorizes.
    /// </summary>
    private static void ResampleColumns(ReadOnlySpan<byte> input, int stride, int firstRow, Span<byte> output, int outHeight, ResampleCoefficients c)
    {
        var accumulator = ArrayPool<int>.Shared.Rent(stride);
        try
        {
            var acc = accumulator.AsSpan(0, stride);
            for (var yy = 0; yy < outHeight; yy++)
            {
                acc.Fill(1 << (c.Precision - 1));
                var start = c.Start[yy] - firstRow;
                var taps = c.Count[yy];
                for (var y = 0; y < taps; y++)
                    MultiplyAdd(input.Slice((start + y) * stride, stride), c.Weights[yy * c.KernelSize + y], acc);
                var row = output.Slice(yy * stride, stride);
                for (var i = 0; i < stride; i++) row[i] = Clip8(acc[i], c.Precision);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(accumulator);
        }
    }

    /// <summary>acc[i] += row[i] * weight, widening bytes to ints a vector at a time.</summary>
    private static void MultiplyAdd(ReadOnlySpan<byte> row, int weight, Span<int> acc)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && row.Length >= Vector<byte>.Count)
        {
            var w = new Vector<int>(weight);
            var accInts = MemoryMarshal.Cast<int, Vector<int>>(acc);
            for (; i <= row.Length - Vector<byte>.Count; i += Vector<byte>.Count)
            {
                var bytes = new Vector<byte>(row[i..]);
                Vector.Widen(bytes, out var lo, out var hi);
                Vector.Widen(lo, out var a, out var b);
                Vector.Widen(hi, out var c, out var d);
                var v = i / Vector<int>.Count;
                accInts[v] += Vector.AsVectorInt32(a) * w;
                accInts[v + 1] += Vector.AsVectorInt32(b) * w;
                accInts[v + 2] += Vector.AsVectorInt32(c) * w;
                accInts[v + 3] += Vector.AsVectorInt32(d) * w;
            }
        }
        for (; i < row.Length; i++) acc[i] += row[i] * weight;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clip8(int sum, int precision)
    {
        var v = sum >> precision;
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }
}
