using Blip2Compiler.Nn.Quantization;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// How <see cref="CheckpointLoader"/> (and <see cref="RandomParameters"/>) fill a key map's parameters: the user's
/// <see cref="Models.Blip2LoadOptions"/> as <see cref="Models.ModelLoader"/> resolves them, plus the loader's own
/// settings. Their dtype (float32, float16 or bfloat16), their device (null: CPU), and whether
/// checkpoint keys the model does not use are an error (<see cref="Strict"/>). Missing or mis-shaped parameters are
/// always an error: a model cannot run without them. <see cref="Quantization"/> (null: none) quantizes linear weights as
/// each is loaded, so the float form of only one tensor exists at a time.
/// </summary>
public sealed record CheckpointReadOptions(ScalarType DType = ScalarType.Float32, Device? Device = null, bool Strict = true)
{
    /// <summary>How many parameters load at once, each on its own thread (null: one per core). Reads from the page
    /// cache and the float conversions scale with cores; each thread holds a 1 MiB scratch buffer.</summary>
    public int? Parallelism { get; init; }

    /// <summary>Called with each parameter's host tensor as soon as it is allocated (tests: that a failed load frees
    /// every one).</summary>
    internal Action<Tensor>? OnAllocated { get; init; }

    public QuantizationPlan? Quantization { get; init; }

    /// <summary>Parameters whose file dtype is their own and that are neither fused nor scaled are the file's pages,
    /// mapped, not a copy (<see cref="MappedTensor"/>: the trade-off); on another device the mapping only stages the
    /// copy. Default on: see <c>Blip2LoadOptions.ZeroCopy</c> for the numbers.</summary>
    public bool ZeroCopy { get; init; } = true;

    /// <summary>Leave the checkpoint's pages in the page cache after the load (default off: each parameter's source
    /// bytes are dropped from it once read, and the files once the load is done, all but the pages zero-copy
    /// parameters map; <see cref="FileCache"/>). See <c>Blip2LoadOptions.KeepFileCache</c> for the trade-off.</summary>
    public bool KeepFileCache { get; init; }

    /// <summary>A loaded parameter as the model receives it, and a tied head's quantized copy (<see cref="QuantizationPlan.Convert"/>).</summary>
    internal (Tensor Parameter, Tensor? Copy) Convert(KeyMapEntry entry, KeyMap map, Tensor tensor) =>
        Quantization is { } plan ? plan.Convert(entry, map, tensor, Device ?? TorchSharp.torch.CPU, TypeOf(entry)) : (tensor, null);

    internal ScalarType TypeOf(KeyMapEntry entry) => entry.KeepFloat32 ? ScalarType.Float32 : DType;
}
