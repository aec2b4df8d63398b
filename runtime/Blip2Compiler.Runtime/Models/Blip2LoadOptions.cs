using TorchSharp;

namespace Blip2Compiler.Models;

/// <summary>Where and in which precision to load a model.</summary>
public sealed record Blip2LoadOptions
{
    /// <summary>"cpu", "cuda" or "cuda:N".</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>float32, float16 or bfloat16 (the Q-Former and query tokens stay float32, as the reference).</summary>
    public torch.ScalarType DType { get; init; } = torch.ScalarType.Float32;
    /// <summary>A libtorch folder (e.g. a Python torch install's lib/) to load before TorchSharp's own; or BLIP2_LIBTORCH.</summary>
    public string? LibTorchPath { get; init; }
}
