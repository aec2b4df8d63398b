using Blip2Compiler.Nn.Quantization;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// How to load parameters: their dtype (float32, float16 or bfloat16), their device (null: CPU), and whether
/// checkpoint keys the model does not use are an error (<see cref="Strict"/>). Missing or mis-shaped parameters are
/// always an error: a model cannot run without them. <see cref="Quantization"/> (null: none) quantizes linear weights as
/// each is loaded, so the float form of only one tensor exists at a time.
/// </summary>
public sealed record LoadOptions(ScalarType DType = ScalarType.Float32, Device? Device = null, bool Strict = true)
{
    public QuantizationPlan? Quantization { get; init; }

    internal void Place(Dictionary<string, Tensor> into, KeyMapEntry entry, KeyMap map, Tensor tensor)
    {
        if (Quantization is { } plan) plan.Place(into, entry, map, tensor);
        else into[entry.Parameter] = tensor;
    }

    internal ScalarType TypeOf(KeyMapEntry entry) => entry.KeepFloat32 ? ScalarType.Float32 : DType;
}
