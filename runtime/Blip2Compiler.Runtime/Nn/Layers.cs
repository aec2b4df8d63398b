using TorchSharp;
using static TorchSharp.torch;
using Blip2Compiler.Nn.Quantization;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn;

/// <summary>
/// y = x Wᵀ + b: one addmm, or the weight-only kernel when the weight was quantized at load (<see cref="Quantized"/>;
/// then <see cref="Weight"/> is the packed data), or for a few float32 CPU rows (a batched decoding step) the
/// read-the-weight-once kernel (<see cref="SkinnyGemm"/>).
/// </summary>
public sealed class Linear
{
    public readonly Tensor Weight;
    public readonly Tensor? Bias;
    public readonly QuantizedWeight? Quantized;
    public Linear(ParameterSet p, string prefix, bool bias)
    {
        Weight = p.Take(prefix + "weight");
        Bias = bias ? p.Take(prefix + "bias") : null;
        Quantized = QuantizedWeights.Find(Weight);
    }
    public Tensor Forward(Tensor x) =>
        Quantized is { } q ? q.Forward(x, Bias)
        : SkinnyGemm.Takes(x, Weight, Bias) ? SkinnyGemm.Forward(x, Weight, Bias)
        : nn.functional.linear(x, Weight, Bias);
}

public sealed class LayerNorm
{
    public readonly Tensor Weight, Bias;
    private readonly double _eps;
    public LayerNorm(ParameterSet p, string prefix, double eps)
    {
        Weight = p.Take(prefix + "weight");
        Bias = p.Take(prefix + "bias");
        _eps = eps;
        _shape = new[] { Weight.shape[0] };
    }
    private readonly long[] _shape;

    public Tensor Forward(Tensor x) => nn.functional.layer_norm(x, _shape, Weight, Bias, _eps);
}

/// <summary>T5's norm: scale only, no mean subtraction, variance in float32 (as the reference).</summary>
public sealed class RmsNorm
{
    public readonly Tensor Weight;
    private readonly Scalar _eps;
    private readonly bool _halfWeight;
    private static readonly long[] LastDim = [-1];

    public RmsNorm(ParameterSet p, string prefix, double eps)
    {
        Weight = p.Take(prefix + "weight");
        _eps = eps;
        _halfWeight = Weight.dtype is ScalarType.Float16 or ScalarType.BFloat16;
    }

    /// <summary>
    /// As the reference: the variance of x in float32, x · rsqrt(variance + eps), back to a half weight's dtype, times
    /// the weight. The eps add, the rsqrt and the weight product run in place on fresh tensors: six libtorch calls for
    /// float32 input (seven for half) and four new tensors, where the plain form makes eight calls and seven tensors.
    /// </summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var wide = x.dtype == ScalarType.Float32 ? x : x.to_type(ScalarType.Float32);
        var inverse = wide.pow(Ops.Two).mean(LastDim, keepdim: true).add_(_eps, Ops.One).rsqrt_();
        var normed = x * inverse;
        if (_halfWeight) normed = normed.to_type(Weight.dtype);
        return normed.mul_(Weight).MoveToOuterDisposeScope();
    }
}

public sealed class Embedding
{
    public readonly Tensor Weight;
    public Embedding(ParameterSet p, string prefix)
    {
        Weight = p.Take(prefix + "weight");
        if (Weight.dtype is ScalarType.Int8 or ScalarType.Byte or ScalarType.Int32)   // int32: tinygemm's int4 tiles
            throw new InvalidOperationException($"embedding '{prefix}weight' was quantized: the quantization plan must keep embedding tables float");
    }
    public Tensor Forward(Tensor ids) => Ops.Lookup(Weight, ids);
}

public sealed class Conv2d
{
    public readonly Tensor Weight, Bias;
    private readonly long _stride;
    public Conv2d(ParameterSet p, string prefix, long stride)
    {
        Weight = p.Take(prefix + "weight");
        Bias = p.Take(prefix + "bias");
        _stride = stride;
    }
    public Tensor Forward(Tensor x) => nn.functional.conv2d(x.to_type(Weight.dtype), Weight, Bias, strides: new[] { _stride, _stride });
}

public static class Stack
{
    public static T[] Create<T>(long count, Func<int, T> create)
    {
        var layers = new T[count];
        for (int i = 0; i < count; i++) layers[i] = create(i);
        return layers;
    }
}

public enum Activation { Gelu, GeluTanh, Relu, Silu, QuickGelu }
