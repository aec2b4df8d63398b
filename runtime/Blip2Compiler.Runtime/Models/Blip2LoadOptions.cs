using Blip2Compiler.Nn.Quantization;
using TorchSharp;

namespace Blip2Compiler.Models;

/// <summary>Where and in which precision to load a model (<see cref="ModelLoader"/> hands them to the checkpoint loader
/// resolved, as <see cref="Checkpoints.CheckpointReadOptions"/>).</summary>
public sealed record Blip2LoadOptions
{
    /// <summary>"cpu", "cuda" or "cuda:N".</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>float32, float16 or bfloat16 (what the graphs mark float32 stays float32, as the reference: the Q-Former,
    /// the query tokens, T5's wo).</summary>
    public torch.ScalarType DType { get; init; } = torch.ScalarType.Float32;
    /// <summary>A libtorch folder (e.g. a Python torch install's lib/) to load before TorchSharp's own; or BLIP2_LIBTORCH.</summary>
    public string? LibTorchPath { get; init; }
    /// <summary>
    /// Weight-only quantization of the language model's and vision tower's linear layers, applied as each weight is
    /// loaded (<see cref="QuantizationPlan"/> says which): int8 per output channel, or int4 per
    /// <see cref="QuantizationGroupSize"/> input features. Runs on the CPU in float32 (<see cref="DType"/> float32).
    /// </summary>
    public QuantizationMode Quantization { get; init; } = QuantizationMode.None;
    /// <summary>Input features per int4 scale (a multiple of 32 that divides every quantized layer's input size).</summary>
    public int QuantizationGroupSize { get; init; } = QuantizationPlan.DefaultGroupSize;
    /// <summary>Also quantize the LM head (Hugging Face/bitsandbytes keep it float); a tied head keeps its float
    /// embedding table beside the quantized copy.</summary>
    public bool QuantizeLmHead { get; init; }

    /// <summary>The checkpoint's config.json when the caller has read it already (<see cref="CheckpointConfig.Read"/>,
    /// to pick the class with <see cref="CompiledConfig.FindMatch{T}"/>): the load checks it instead of reading the file
    /// again. Null: the load reads the folder's own.</summary>
    public CheckpointConfig? Config { get; init; }

    internal QuantizationPlan? QuantizationPlan =>
        Quantization == QuantizationMode.None ? null : new QuantizationPlan(Quantization, QuantizationGroupSize, QuantizeLmHead);
}
