using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// Float weight [out, in] → <see cref="QuantizedWeight"/>, symmetric round-to-nearest (as bitsandbytes' int8 weights
/// and llama.cpp's Q4_0): int8 s = max|w_row| / 127, int4 s = max|w_group| / 7; q = round(w / s) clamped to the code
/// range, so |w − q·s| ≤ s / 2 for every weight. A zero row or group gets s = 0 and q = 0.
/// </summary>
public static class Quantizer
{
    public static QuantizedWeight Quantize(Tensor weight, QuantizationMode mode, int groupSize)
    {
        if (weight.dim() != 2) throw new ArgumentException($"a linear weight is 2-D, not {weight.dim()}-D", nameof(weight));
        var (n, k) = ((int)weight.shape[0], (int)weight.shape[1]);
        using var scope = NewDisposeScope();
        var w = weight.to(ScalarType.Float32, torch.CPU);
        switch (mode)
        {
            case QuantizationMode.Int8:
            {
                var scale = w.abs().amax(new long[] { 1 }, keepdim: true).div_(127);
                var q = QuantizeWith(w, scale, -127, 127).to_type(ScalarType.Int8);
                return new QuantizedWeight(mode, q.contiguous().DetachFromDisposeScope(), scale.reshape(-1).data<float>().ToArray(), n, k, k);
            }
            case QuantizationMode.Int4:
            {
                if (groupSize <= 0 || groupSize % Int4Kernels.Block != 0 || k % groupSize != 0)
                    throw new ArgumentException($"int4 needs a group that is a multiple of {Int4Kernels.Block} and divides the {k} input features (group {groupSize})", nameof(groupSize));
                var grouped = w.view(n, k / groupSize, groupSize);
                var scale = grouped.abs().amax(new long[] { 2 }, keepdim: true).div_(7);
                var u = QuantizeWith(grouped, scale, -8, 7).add_(8).to_type(ScalarType.Int32).view(n, k / Int4Kernels.Block, Int4Kernels.Block);
                // Q4_0 order: byte j of a 32-block = element j (low nibble) | element j + 16 (high nibble).
                var lo = u.narrow(2, 0, Int4Kernels.Block / 2);
                var hi = u.narrow(2, Int4Kernels.Block / 2, Int4Kernels.Block / 2);
                var packed = (lo + hi * 16).to_type(ScalarType.Byte).reshape(n, k / 2).contiguous();
                return new QuantizedWeight(mode, packed.DetachFromDisposeScope(), scale.reshape(-1).data<float>().ToArray(), n, k, groupSize);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "nothing to quantize for None");
        }
    }

    // round(w / s) in the code range; where s = 0 (an all-zero row or group) the quotient is 0/0 and becomes 0.
    private static Tensor QuantizeWith(Tensor w, Tensor scale, int min, int max) =>
        w.div(scale).nan_to_num_(0, 0, 0).round_().clamp_(min, max);
}
