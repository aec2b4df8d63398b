using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// How to load parameters: their dtype (float32, float16 or bfloat16), their device (null: CPU), and whether
/// checkpoint keys the model does not use are an error (<see cref="Strict"/>). Missing or mis-shaped parameters are
/// always an error: a model cannot run without them.
/// </summary>
public sealed record LoadOptions(ScalarType DType = ScalarType.Float32, Device? Device = null, bool Strict = true)
{
    internal ScalarType TypeOf(KeyMapEntry entry) => entry.KeepFloat32 ? ScalarType.Float32 : DType;
}
