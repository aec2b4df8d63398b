using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// A linear layer's weight [out, in] stored weight-only quantized: <see cref="Data"/> is the int8 tensor [out, in]
/// (<see cref="QuantizationMode.Int8"/>) or the packed uint8 tensor [out, in / 2] (<see cref="QuantizationMode.Int4"/>,
/// <see cref="Int4Kernels"/>' layout), a CPU tensor the model owns like any parameter; <see cref="Scales"/> are
/// float32, one per row or one per row and group, in pinned memory the kernels read in place.
/// </summary>
public sealed class QuantizedWeight
{
    internal QuantizedWeight(QuantizationMode mode, Tensor data, float[] scales, int outFeatures, int inFeatures, int groupSize)
    {
        Mode = mode;
        Data = data;
        Scales = scales;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        GroupSize = groupSize;
    }

    public QuantizationMode Mode { get; }
    public Tensor Data { get; }
    public float[] Scales { get; }
    public int OutFeatures { get; }
    public int InFeatures { get; }
    /// <summary>Input features per scale: <see cref="InFeatures"/> for int8 (one scale per row), the group for int4.</summary>
    public int GroupSize { get; }

    /// <summary>Bytes held: the packed weights and the scales.</summary>
    public long Bytes => Data.NumberOfElements * Data.ElementSize + Scales.LongLength * sizeof(float);

    /// <summary>y = x Wᵀ + b for float32 CPU input [..., in] → [..., out] (<see cref="WeightOnlyMatmul"/>).</summary>
    public Tensor Forward(Tensor x, Tensor? bias) => WeightOnlyMatmul.Forward(this, x, bias, KernelIsas.Best);

    /// <summary>The weight as float32 [out, in]: what the kernels multiply by (for tests and the prefill path).</summary>
    public Tensor Dequantize()
    {
        var output = torch.empty(OutFeatures, InFeatures, ScalarType.Float32);
        WeightOnlyMatmul.DequantizeInto(this, output);
        return output;
    }

    internal unsafe nint DataPointer => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(Data.bytes));
}
