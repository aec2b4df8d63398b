using TorchSharp;
using static TorchSharp.torch;
using Blip2Compiler.Nn.Quantization;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn;

/// <summary>
/// The operations the graph language lowers to. Each is one or a few libtorch calls; shapes follow the
/// reference (batch, sequence, hidden) and (batch, heads, sequence, head_dim) for attention.
/// </summary>
public static partial class Ops
{
    /// <summary>A linear on a raw weight parameter (the vision tower's fused qkv, a tied LM head): quantized when the
    /// weight has a quantized form (<see cref="QuantizedWeights"/>).</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias) =>
        QuantizedWeights.Find(weight) is { } q ? q.Forward(x, bias)
        : SkinnyGemm.Takes(x, weight, bias) ? SkinnyGemm.Forward(x, weight, bias)
        : nn.functional.linear(x, weight, bias);

    public static Tensor Gelu(Tensor x) => nn.functional.gelu(x);
    public static Tensor Relu(Tensor x) => nn.functional.relu(x);
    public static Tensor Silu(Tensor x) => nn.functional.silu(x);
    public static Tensor QuickGelu(Tensor x) => x * torch.sigmoid(x * 1.702);

    /// <summary>The tanh approximation (transformers' gelu_new / gelu_pytorch_tanh).</summary>
    public static Tensor GeluTanh(Tensor x) =>
        x * 0.5 * (1.0 + torch.tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x.pow(3))));

    public static Tensor Apply(Tensor x, Activation activation) => activation switch
    {
        Activation.Gelu => Gelu(x),
        Activation.GeluTanh => GeluTanh(x),
        Activation.Relu => x.relu_(),   // in place on a fresh GEMM output: no second tensor
        Activation.Silu => x.silu_(),
        _ => QuickGelu(x),
    };

    /// <summary>Fused epilogue: the linear with its bias (<see cref="Nn.Linear.Forward"/>: addmm, or the quantized or
    /// few-row kernel), then the activation, in place on the fresh output for ReLU and SiLU (<see cref="Apply"/>).</summary>
    public static Tensor LinearActivation(Tensor x, Linear linear, Activation activation) =>
        Apply(linear.Forward(x), activation);

    /// <summary>
    /// Fused residual: the GEMM (with its bias) then the residual added in place on its output: two libtorch calls and
    /// one new tensor, where the unfused graph makes a GEMM output and then a second tensor for the sum.
    /// </summary>
    public static Tensor LinearResidual(Tensor x, Linear linear, Tensor residual)
    {
        var y = linear.Forward(x);
        // A float32 residual stream (T5 after its float32 wo) over a half-precision layer: the sum promotes, as the
        // unfused residual + y does; in place only where the GEMM output already has the sum's dtype.
        return y.dtype == residual.dtype || y.dtype == ScalarType.Float32 ? y.add_(residual, One) : residual + y;
    }

    // TorchSharp turns a number argument into a new native Scalar on every call (a P/Invoke, and an object left to the
    // finalizer); hot paths pass these instead. Read-only, so shared across threads.
    internal static readonly Scalar One = 1;
    internal static readonly Scalar Two = 2;

    /// <summary>[batch, seq, heads·head_dim] → [batch, heads, seq, head_dim], as views (two calls, no shape queries).</summary>
    public static Tensor SplitHeads(Tensor x, long heads) => x.unflatten(2, new[] { heads, -1L }).transpose(1, 2);

    /// <summary>
    /// A fused [q|k|v] projection [batch, seq, 3·heads·head_dim] → three [batch, heads, seq, head_dim] views:
    /// unflatten, permute, unbind — three calls and no shape reads, whatever the batch.
    /// </summary>
    public static (Tensor, Tensor, Tensor) SplitHeadsFused(Tensor x, long heads)
    {
        var parts = SplitHeadsParts(x, 3, heads);
        return (parts[0], parts[1], parts[2]);
    }

    /// <summary>A fused [k|v] projection (cross-attention) → two [batch, heads, seq, head_dim] views.</summary>
    public static (Tensor, Tensor) SplitHeadsFusedPair(Tensor x, long heads)
    {
        var parts = SplitHeadsParts(x, 2, heads);
        return (parts[0], parts[1]);
    }

    private static Tensor[] SplitHeadsParts(Tensor x, long count, long heads) =>
        x.unflatten(2, new[] { count, heads, -1L }).permute(2, 0, 3, 1, 4).unbind(0);

    public static Tensor MergeHeads(Tensor x) => x.transpose(1, 2).flatten(2);

    /// <summary>Outputs of a fused projection, as views along the last dimension.</summary>
    public static (Tensor, Tensor) SplitLast(Tensor x, long a, long b)
    {
        var parts = x.split(new[] { a, b }, -1);
        return (parts[0], parts[1]);
    }

    public static (Tensor, Tensor, Tensor) SplitLast(Tensor x, long a, long b, long c)
    {
        var parts = x.split(new[] { a, b, c }, -1);
        return (parts[0], parts[1], parts[2]);
    }

    public static Tensor PrependClassToken(Tensor classEmbedding, Tensor tokens) =>
        torch.cat(new[] { classEmbedding.expand(tokens.shape[0], 1, -1).to_type(tokens.dtype), tokens }, 1);

    public static Tensor FlattenPatches(Tensor patches) => patches.flatten(2).transpose(1, 2);

    public static Tensor SelectToken(Tensor x, long index) => x.select(1, index);

    public static Tensor Slice(Tensor x, long dim, long start, long? end) => x.slice(dim, start, end ?? x.shape[dim], 1);

    public static Tensor Cat(Tensor a, Tensor b, long dim) => torch.cat(new[] { a, b.to_type(a.dtype) }, dim);

    public static Tensor Mean(Tensor x, long dim) => x.mean(new[] { dim });

    public static Tensor Normalize(Tensor x) => nn.functional.normalize(x, p: 2, dim: -1, eps: 1e-12);

    public static Tensor ExpandBatch(Tensor parameter, Tensor like) => parameter.expand(like.shape[0], -1, -1);

    public static Tensor ToFloat32(Tensor x) => x.to_type(ScalarType.Float32);

    /// <summary>x in the dtype of a floating-point <paramref name="reference"/> (a weight kept float32); a quantized
    /// weight (int8/int4 data, computed in float) leaves x as it is, as the reference skips the cast for int8 weights.</summary>
    public static Tensor ToDTypeOf(Tensor x, Tensor reference) =>
        reference.is_floating_point() && x.dtype != reference.dtype ? x.to_type(reference.dtype) : x;

    public static Tensor OnesMask(Tensor queries) => torch.ones(queries.shape[0], queries.shape[1], dtype: ScalarType.Int64, device: queries.device);

    /// <summary>Embedding lookup: rows of `table` for each id, shape ids.shape + [dim].</summary>
    public static Tensor Lookup(Tensor table, Tensor ids)
    {
        var shape = ids.shape.Append(table.shape[1]).ToArray();
        return table.index_select(0, ids.reshape(-1)).view(shape);
    }

    /// <summary>Running sum along <paramref name="dim"/> in int64 (masks and counts: torch.cumsum promotes integers to int64).</summary>
    public static Tensor CumSum(Tensor x, long dim) => x.cumsum(dim, ScalarType.Int64);

    public static Tensor PositionsLike(Tensor ids) => torch.arange(ids.shape[1], dtype: ScalarType.Int64, device: ids.device).unsqueeze(0);
}
