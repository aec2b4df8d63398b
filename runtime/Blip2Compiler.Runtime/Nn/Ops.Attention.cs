using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn;

public static partial class Ops
{
    /// <summary>
    /// softmax(q kᵀ · scale + mask) v. Through libtorch's scaled_dot_product_attention (flash / memory-efficient
    /// kernels on GPU); TorchSharp's SDPA has no scale argument, so q is pre-scaled when the graph's scale is not
    /// 1/√d. When attention probabilities are requested, the explicit form runs instead and records them (a
    /// <paramref name="cross"/>-attention's in <see cref="ForwardContext.CrossAttentions"/>).
    /// </summary>
    public static Tensor Attention(ForwardContext ctx, Tensor q, Tensor k, Tensor v, Tensor? mask, double scale, bool cross = false)
    {
        Tensor? fullyMasked = null;
        var shape = q.shape;   // one read for both uses below
        if (mask is not null) (mask, fullyMasked) = ctx.PrepareMask(mask, q.dtype, AdditiveMask,
            // One new token always sees itself: only prompts (left padding) can have rows that see nothing.
            shape[2] > 1 ? FullyMasked : static (_, _) => null);
        if (ctx.OutputAttentions)
        {
            var scores = torch.matmul(q, k.transpose(-1, -2)) * scale;
            if (mask is not null) scores = scores + mask;
            var probabilities = scores.softmax(-1, ScalarType.Float32).to_type(q.dtype);
            if (fullyMasked is not null) probabilities = probabilities.masked_fill(fullyMasked, 0);
            ctx.RecordAttention(probabilities, cross);
            return torch.matmul(probabilities, v);
        }
        var headDim = shape[^1];
        var defaultScale = 1.0 / Math.Sqrt(headDim);
        if (Math.Abs(scale - defaultScale) > 1e-12 * defaultScale) q = q.mul(ScaleRatios.GetOrAdd(scale / defaultScale, r => r));
        var output = nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, false);
        // As the reference's SDPA with a boolean mask: a query that may attend to nothing (a left-padding
        // position) outputs zeros rather than an average over masked keys.
        if (fullyMasked is not null) output = output.masked_fill(fullyMasked, 0);
        return output;
    }

    // The q pre-scale factors in use (one per model kind, e.g. T5's √d_kv), as native Scalars made once.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<double, Scalar> ScaleRatios = new();

    /// <summary>Rows that may attend to nothing, or null when there are none (the common case: no work later).</summary>
    private static Tensor? FullyMasked(Tensor mask, ScalarType dtype)
    {
        var rows = mask.le(torch.finfo(dtype).min / 2).all(-1, keepdim: true);
        return rows.any().item<bool>() ? rows : null;
    }

    /// <summary>An additive float mask in the attention dtype; -inf-like values clamped to the dtype's minimum.</summary>
    internal static Tensor AdditiveMask(Tensor mask, ScalarType dtype)
    {
        if (mask.dtype == dtype) return mask;
        var min = torch.finfo(dtype).min;
        return mask.clamp_min(min).to_type(dtype);
    }

    /// <summary>[batch, keys] 1/0 mask → additive [batch, 1, 1, keys] (0 or the float32 minimum).</summary>
    public static Tensor PaddingMask(Tensor mask)
    {
        var m = mask.to_type(ScalarType.Float32);
        return ((1.0 - m) * torch.finfo(ScalarType.Float32).min).unsqueeze(1).unsqueeze(1);
    }

    /// <summary>
    /// Causal + padding mask [batch, 1, new, past+new] for `x`'s new positions after the cached ones;
    /// `mask` covers every position so far ([batch, past+new]). A one-position step with
    /// <see cref="ForwardContext.StepPosition"/> takes its position from there (on the device): [1], one for all rows
    /// (the static step), or [batch], each row's own (the serving engine's rows).
    /// </summary>
    public static Tensor CausalMask(ForwardContext ctx, Tensor mask, Tensor x) =>
        ctx.StepPosition is { } position && x.shape[1] == 1
            ? CausalMask(mask, position.view(-1, 1, 1))
            : CausalMask(mask, x.shape[1], ctx.PastLength);

    public static Tensor CausalMask(Tensor mask, long queryLength, long past) =>
        CausalMask(mask, torch.arange(past, past + queryLength, dtype: ScalarType.Int64, device: mask.device).view(1, -1, 1));

    /// <summary>The same for query positions [1 or batch, new, 1] (int64) given as a tensor.</summary>
    private static Tensor CausalMask(Tensor mask, Tensor queryPositions)
    {
        var keys = mask.shape[1];
        var device = mask.device;
        var keyPositions = torch.arange(keys, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        var allowed = keyPositions.le(queryPositions) & mask.to_type(ScalarType.Bool).unsqueeze(1);
        var min = torch.finfo(ScalarType.Float32).min;
        return torch.where(allowed, 0.0f, min).to_type(ScalarType.Float32).unsqueeze(1);
    }
}
