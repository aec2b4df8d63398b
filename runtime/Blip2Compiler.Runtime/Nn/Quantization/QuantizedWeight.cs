using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// A linear layer's weight [out, in] stored weight-only quantized, in one of two forms.
/// The host form (the runtime's own CPU kernels, and what <see cref="Quantizer"/> makes): <see cref="Data"/> is the
/// int8 tensor [out, in] (<see cref="QuantizationMode.Int8"/>) or the packed uint8 tensor [out, in / 2]
/// (<see cref="QuantizationMode.Int4"/>, <see cref="Int4Kernels"/>' layout), a CPU tensor the model owns like any
/// parameter; <see cref="Scales"/> are float32, one per row or one per row and group, in memory the kernels read in
/// place. The libtorch form (<see cref="LibTorchWeightOnlyMatmul"/>, the runtime's choice on CUDA): <see cref="Data"/>
/// is the int8 tensor or tinygemm's int32 tiles on the device, <see cref="ScaleTensor"/> the scales there, and
/// <see cref="Scales"/> is empty.
/// </summary>
public sealed class QuantizedWeight
{
    internal QuantizedWeight(QuantizationMode mode, Tensor data, float[] scales, int outFeatures, int inFeatures, int groupSize,
        Tensor? scaleTensor = null)
    {
        Mode = mode;
        Data = data;
        Scales = scales;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        GroupSize = groupSize;
        ScaleTensor = scaleTensor;
    }

    /// <summary>The libtorch form's scales on its device (int8: float32 [out]; int4: bfloat16 scales and zero points
    /// [groups, out, 2]); null for the host form.</summary>
    public Tensor? ScaleTensor { get; }

    public QuantizationMode Mode { get; }
    public Tensor Data { get; }
    public float[] Scales { get; }
    public int OutFeatures { get; }
    public int InFeatures { get; }
    /// <summary>Input features per scale: <see cref="InFeatures"/> for int8 (one scale per row), the group for int4.</summary>
    public int GroupSize { get; }

    /// <summary>Bytes held: the packed weights and the scales.</summary>
    public long Bytes => Data.NumberOfElements * Data.ElementSize + ScaleBytes;

    /// <summary>Bytes of the scales (and tinygemm's zero points).</summary>
    public long ScaleBytes => Scales.LongLength * sizeof(float) + (ScaleTensor is { } s ? s.NumberOfElements * s.ElementSize : 0);

    /// <summary>y = x Wᵀ + b, [..., in] → [..., out]: float32 CPU input through <see cref="WeightOnlyMatmul"/> (host
    /// form), the model's dtype on the weight's device through <see cref="LibTorchWeightOnlyMatmul"/> (libtorch form).</summary>
    public Tensor Forward(Tensor x, Tensor? bias) =>
        ScaleTensor is null ? WeightOnlyMatmul.Forward(this, x, bias, KernelIsas.Best) : LibTorchWeightOnlyMatmul.Forward(this, x, bias);

    /// <summary>The weight as float32 [out, in] on its device: what the kernels multiply by (for tests, saving and the
    /// prefill path).</summary>
    public Tensor Dequantize()
    {
        if (ScaleTensor is not null) return LibTorchWeightOnlyMatmul.Dequantize(this);
        var output = torch.empty(OutFeatures, InFeatures, ScalarType.Float32);
        WeightOnlyMatmul.DequantizeInto(this, output);
        return output;
    }

    internal unsafe nint DataPointer => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(Data.bytes));
}
