using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// Float weight [out, in] → <see cref="QuantizedWeight"/>, symmetric round-to-nearest (as bitsandbytes' int8 weights
/// and llama.cpp's Q4_0): int8 s = max|w_row| / 127, int4 s = max|w_group| / 7; q = round(w / s) clamped to the code
/// range, so |w − q·s| ≤ s / 2 for every weight. A zero row or group gets s = 0 and q = 0.
/// </summary>
public static unsafe class Quantizer
{
    /// <remarks>
    /// Written over the tensors' memory, row by row in managed code: no temporaries beside the float input and the
    /// packed output (libtorch ops made five weight-sized float temporaries, and the allocator kept them: peak RSS
    /// while loading mid in int8 was 2.1× the parameters, <c>bench/RESULTS.md</c>). The division is float32 w / s, as
    /// libtorch's, and rounding is half-to-even, as <c>torch.round</c>.
    /// </remarks>
    public static QuantizedWeight Quantize(Tensor weight, QuantizationMode mode, int groupSize)
    {
        if (weight.dim() != 2) throw new ArgumentException($"a linear weight is 2-D, not {weight.dim()}-D", nameof(weight));
        var (n, k) = ((int)weight.shape[0], (int)weight.shape[1]);
        if (mode == QuantizationMode.Int4 && (groupSize <= 0 || groupSize % Int4Kernels.Block != 0 || k % groupSize != 0))
            throw new ArgumentException($"int4 needs a group that is a multiple of {Int4Kernels.Block} and divides the {k} input features (group {groupSize})", nameof(groupSize));
        if (mode == QuantizationMode.None) throw new ArgumentOutOfRangeException(nameof(mode), mode, "nothing to quantize for None");

        using var scope = NewDisposeScope();
        var source = weight.dtype == ScalarType.Float32 && weight.device_type == DeviceType.CPU && weight.is_contiguous()
            ? weight : weight.to(ScalarType.Float32, torch.CPU).contiguous();
        var w = (float*)WeightOnlyMatmul.Pointer(source);
        if (mode == QuantizationMode.Int8)
        {
            var data = torch.empty(n, k, ScalarType.Int8);
            var q = (sbyte*)WeightOnlyMatmul.Pointer(data);
            var scales = new float[n];
            for (var r = 0; r < n; r++)
                scales[r] = QuantizeRun(w + (long)r * k, k, 127, -127, 127, q + (long)r * k);
            return new QuantizedWeight(mode, data.DetachFromDisposeScope(), scales, n, k, k);
        }
        else
        {
            var data = torch.empty(n, k / 2, ScalarType.Byte);
            var packed = (byte*)WeightOnlyMatmul.Pointer(data);
            var groups = k / groupSize;
            var scales = new float[(long)n * groups];
            var codes = new sbyte[k];
            fixed (sbyte* c = codes)
                for (var r = 0; r < n; r++)
                {
                    for (var g = 0; g < groups; g++)
                        scales[(long)r * groups + g] = QuantizeRun(w + (long)r * k + g * groupSize, groupSize, 7, -8, 7, c + g * groupSize);
                    // Q4_0 order: byte j of a 32-block = element j (low nibble) | element j + 16 (high nibble), as q + 8.
                    var row = packed + (long)r * (k / 2);
                    for (var b = 0; b < k / Int4Kernels.Block; b++)
                        for (var j = 0; j < Int4Kernels.Block / 2; j++)
                            row[b * (Int4Kernels.Block / 2) + j] = (byte)((c[b * Int4Kernels.Block + j] + 8) | ((c[b * Int4Kernels.Block + j + Int4Kernels.Block / 2] + 8) << 4));
                }
            return new QuantizedWeight(mode, data.DetachFromDisposeScope(), scales, n, k, groupSize);
        }
    }

    // s = max|w| / levels; codes round(w / s) clamped to [min, max]; an all-zero run has s = 0 and codes 0.
    private static float QuantizeRun(float* w, int count, int levels, int min, int max, sbyte* codes)
    {
        float amax = 0;
        for (var i = 0; i < count; i++) amax = MathF.Max(amax, MathF.Abs(w[i]));
        var scale = amax / levels;
        for (var i = 0; i < count; i++)
            codes[i] = scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(w[i] / scale, MidpointRounding.ToEven), min, max);
        return scale;
    }
}
