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
    /// <see cref="QuantizationGroupSize"/> input features. On the CPU the runtime's own kernels, in float32
    /// (<see cref="DType"/> float32); on CUDA libtorch's (<c>_weight_int8pack_mm</c>, <c>_weight_int4pack_mm</c>) in
    /// any <see cref="DType"/>, the weights quantized on the host as they are read and only their quantized form
    /// copied to the device (<see cref="LibTorchWeightOnlyMatmul"/>).
    /// </summary>
    public QuantizationMode Quantization { get; init; } = QuantizationMode.None;
    /// <summary>Input features per int4 scale (a multiple of 32 that divides every quantized layer's input size).</summary>
    public int QuantizationGroupSize { get; init; } = QuantizationPlan.DefaultGroupSize;
    /// <summary>Also quantize the LM head (Hugging Face/bitsandbytes keep it float); a tied head keeps its float
    /// embedding table beside the quantized copy.</summary>
    public bool QuantizeLmHead { get; init; }

    /// <summary>
    /// Parameters the checkpoint holds in their own dtype, unfused and unscaled (on the CPU: a float32 checkpoint loaded
    /// in float32, and the float32-kept parts of a half-precision load), are the file's pages, mapped privately, instead
    /// of a copy in new memory: the same resident bytes, no copy, and the file's page cache and the model are one set of
    /// pages. On by default because it is what bounds a float32 load: itm-vit-g's 4.69 GB loaded in 1.8 s against 21.3 s
    /// copied (0.83× and 9.9× <c>cat</c> of the file, side by side in one run; peak RSS 1.04× the parameters either
    /// way; bench/RESULTS.md), and safetensors' own <c>load_file</c> maps the file too. The price: rewriting or
    /// truncating the checkpoint file <em>in place</em> while the model is alive changes its weights or, for
    /// truncation, ends the process with SIGBUS (exit 135, measured: <c>load-truncate</c>) at the next forward;
    /// replacing the file by a rename, as downloads do, or deleting it, is safe, and a truncation during the load
    /// itself is the usual <see cref="Checkpoints.CheckpointFormatException"/>. Set false for a long-running process
    /// whose checkpoint may be overwritten in place, or on a network file system (where a failed page-in is a SIGBUS too).
    /// </summary>
    public bool ZeroCopy { get; init; } = true;

    /// <summary>
    /// Leave the checkpoint file's pages in the operating system's page cache after the load. Off by default: what the
    /// loader reads into new memory (a converted or fused parameter, every parameter with <see cref="ZeroCopy"/> off)
    /// leaves the cache as soon as its parameter is built, and the rest of the files when the load is done, all but the
    /// pages zero-copy parameters map (those are the parameters). So the load holds the parameters and nothing of the
    /// source, and on a VM whose new memory is slow to touch the freed pages become the next parameters' memory:
    /// opt-2.7b from a cached float32 file into bfloat16 in 0.6-0.7× the time (2.0-2.4× <c>cat</c> against 3.4-3.7×; bench/RESULTS.md, session 8). The price
    /// is the next load of the same file, which reads the dropped part from disk again. Set true when the same
    /// checkpoint is loaded again and again by short-lived processes (the CLI's one-shot commands do).
    /// </summary>
    public bool KeepFileCache { get; init; }

    /// <summary>The checkpoint's config.json when the caller has read it already (<see cref="CheckpointConfig.Read"/>,
    /// to pick the class with <see cref="CompiledConfig.FindMatch{T}"/>): the load checks it instead of reading the file
    /// again. Null: the load reads the folder's own.</summary>
    public CheckpointConfig? Config { get; init; }

    /// <summary>Tests: libtorch's kernels (the CUDA route) on the CPU too, through the ops' CPU variants.</summary>
    internal bool LibTorchQuantizedKernelsOnCpu { get; init; }

    internal QuantizationPlan? QuantizationPlan =>
        Quantization == QuantizationMode.None ? null
        : new QuantizationPlan(Quantization, QuantizationGroupSize, QuantizeLmHead) { LibTorchKernelsOnCpu = LibTorchQuantizedKernelsOnCpu };
}
