using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// Which parameters are quantized, decided at load from each parameter's Hugging Face key (its module path), the way
/// transformers + bitsandbytes decide for BLIP-2: the linear layers of the language model and of the vision tower;
/// not the Q-Former and query tokens (<c>_keep_in_fp32_modules</c>), not the language projection, norms, embeddings,
/// the patch convolution or the LM head (bitsandbytes' <c>get_keys_to_not_convert</c> keeps the output embedding),
/// unless <see cref="QuantizeLmHead"/>. A tied head (OPT, the fixture T5) keeps its float table for the embedding
/// lookup and gets a quantized copy for the logits GEMV. This is a runtime decision by module path, so the generator
/// and the emitted code need no quantized parameter kind. So is the kernel: on the CPU the runtime's own
/// (<see cref="WeightOnlyMatmul"/>), on CUDA libtorch's (<see cref="LibTorchWeightOnlyMatmul"/>, <see cref="Place"/>).
/// </summary>
public sealed record QuantizationPlan(QuantizationMode Mode, int GroupSize = QuantizationPlan.DefaultGroupSize, bool QuantizeLmHead = false)
{
    /// <summary>Use libtorch's kernels on the CPU too (tests: the CUDA route's layouts through the ops' CPU variants;
    /// 6-7× slower than the runtime's own there).</summary>
    internal bool LibTorchKernelsOnCpu { get; init; }

    /// <summary>Whether weights on <paramref name="device"/> run libtorch's kernels (CUDA) or the runtime's (CPU).</summary>
    public bool UsesLibTorchKernels(Device device) => device.type != DeviceType.CPU || LibTorchKernelsOnCpu;

    /// <summary>128 input features per int4 scale: ≈ 0.5 + 4/128 = 0.53 bytes per weight (0.13× float32).</summary>
    public const int DefaultGroupSize = 128;

    private static readonly string[] QuantizedRoots = ["language_model.", "vision_model."];
    private static readonly string[] EmbeddingModules = ["embed_tokens", "embed_positions", "shared", "relative_attention_bias", "word_embeddings", "position_embeddings"];
    private const string LmHeadKey = "language_model.lm_head.weight";

    /// <summary>What loading does with one parameter.</summary>
    public enum Treatment
    {
        /// <summary>Loaded as is.</summary>
        Keep,
        /// <summary>Only its quantized form is kept (the model receives the packed data tensor).</summary>
        Quantize,
        /// <summary>Kept as is and also quantized (a tied LM head's table: lookups read the float, logits the copy).</summary>
        KeepAndQuantizeCopy,
    }

    public Treatment For(KeyMapEntry entry, KeyMap map)
    {
        if (Mode == QuantizationMode.None || entry.Shape.Length != 2 || entry.KeepFloat32
            || !entry.Parameter.EndsWith("weight", StringComparison.Ordinal))
            return Treatment.Keep;
        var key = entry.Alternatives[0].Keys[0];
        if (!QuantizedRoots.Any(r => key.StartsWith(r, StringComparison.Ordinal))) return Treatment.Keep;
        if (key == LmHeadKey) return QuantizeLmHead ? Treatment.Quantize : Treatment.Keep;
        var module = key.Split('.') is { Length: >= 2 } parts ? parts[^2] : "";
        if (EmbeddingModules.Contains(module))
            return QuantizeLmHead && IsTiedHead(key, map) ? Treatment.KeepAndQuantizeCopy : Treatment.Keep;
        return Treatment.Quantize;
    }

    // The input embedding that serves as the output one: the checkpoint's lm_head key is ignored by the key map (tied).
    private static bool IsTiedHead(string key, KeyMap map) =>
        map.IsIgnored(LmHeadKey) && !map.Entries.Any(e => e.Alternatives[0].Keys[0] == LmHeadKey)
        && (key.EndsWith(".decoder.embed_tokens.weight", StringComparison.Ordinal) || key == "language_model.shared.weight");

    /// <summary>
    /// Every reason this plan cannot load the model, checked from the key map (and, for libtorch's kernels, one small
    /// run of each on the device: <see cref="LibTorchWeightOnlyMatmul.Probe"/>) before any weight is read. The
    /// runtime's CPU kernels take float32 activations; int4 needs each quantized layer's input size to be a multiple
    /// of the group, itself a multiple of 32, and on libtorch's kernels (tinygemm) a group of 32, 64, 128 or 256 and
    /// an output size that is a multiple of 8 (16 for the CPU variant's repacking).
    /// </summary>
    public void EnsureSupported(KeyMap map, ScalarType dtype, Device device)
    {
        if (Mode == QuantizationMode.None) return;
        var libtorch = UsesLibTorchKernels(device);
        if (libtorch && device.type is not (DeviceType.CUDA or DeviceType.CPU))
            throw new UnsupportedQuantizationException(Mode, $"quantized weights run on the CPU (the runtime's kernels) or on CUDA (libtorch's), not on {device}");
        if (!libtorch && dtype != ScalarType.Float32)
            throw new UnsupportedQuantizationException(Mode, $"the CPU weight-only kernels compute in float32; dtype {DTypeSpec.Name(dtype)} is not supported with quantization on the CPU (on CUDA it is)");
        if (Mode == QuantizationMode.Int4)
        {
            if (GroupSize <= 0 || GroupSize % Int4Kernels.Block != 0)
                throw new UnsupportedQuantizationException(Mode, $"the int4 group size must be a positive multiple of {Int4Kernels.Block}, not {GroupSize}");
            if (libtorch && !LibTorchWeightOnlyMatmul.Int4GroupSizes.Contains(GroupSize))
                throw new UnsupportedQuantizationException(Mode, $"libtorch's int4 kernel (tinygemm, used on {device}) takes groups of {string.Join(", ", LibTorchWeightOnlyMatmul.Int4GroupSizes)}, not {GroupSize}");
            var rowMultiple = device.type == DeviceType.CPU ? 16 : 8;
            foreach (var entry in map.Entries)
            {
                if (For(entry, map) == Treatment.Keep) continue;
                if (entry.Shape[1] % GroupSize != 0)
                    throw new UnsupportedQuantizationException(Mode,
                        $"{entry.Shape[1]} input features are not a multiple of the int4 group size {GroupSize}", entry.Parameter);
                if (libtorch && entry.Shape[0] % rowMultiple != 0)
                    throw new UnsupportedQuantizationException(Mode,
                        $"{entry.Shape[0]} output features are not a multiple of {rowMultiple}, which libtorch's int4 kernel on {device} needs", entry.Parameter);
            }
        }
        if (libtorch && LibTorchWeightOnlyMatmul.Probe(Mode, dtype, device, GroupSize) is { } reason)
            throw new UnsupportedQuantizationException(Mode, reason);
    }

    /// <summary>A freshly quantized weight (host form) as it serves on <paramref name="device"/>: itself on the CPU,
    /// else in libtorch's layout there, its host form freed.</summary>
    public QuantizedWeight Place(QuantizedWeight host, Device device)
    {
        if (!UsesLibTorchKernels(device)) return host;
        try { return LibTorchWeightOnlyMatmul.ToLibTorch(host, device); }
        finally { host.Data.Dispose(); }
    }

    /// <summary>
    /// A loaded parameter as the model receives it on <paramref name="device"/> (the packed data when quantized;
    /// <paramref name="tensor"/> is then disposed), and a tied head's quantized copy to keep beside it (null
    /// otherwise). <paramref name="tensor"/> may be on the host (the loader reads a weight to quantize as float32
    /// there) or on the device (random parameters); a kept tensor ends on the device in <paramref name="dtype"/>.
    /// </summary>
    public (Tensor Parameter, Tensor? Copy) Convert(KeyMapEntry entry, KeyMap map, Tensor tensor, Device device, ScalarType dtype)
    {
        switch (For(entry, map))
        {
            case Treatment.Quantize:
                QuantizedWeight quantized;
                try { quantized = Place(Quantizer.Quantize(tensor, Mode, GroupSize), device); }
                finally { tensor.Dispose(); }
                QuantizedWeights.Register(quantized.Data, quantized);
                return (quantized.Data, null);
            case Treatment.KeepAndQuantizeCopy:
                var copy = Place(Quantizer.Quantize(tensor, Mode, GroupSize), device);
                var kept = tensor;
                if (tensor.device != device || tensor.dtype != dtype)
                {
                    kept = tensor.to(dtype, device).DetachFromDisposeScope();
                    tensor.Dispose();
                }
                QuantizedWeights.Register(kept, copy);
                return (kept, copy.Data);
            default:
                return (tensor, null);
        }
    }

    /// <summary>The loaded-set name of a tied head's quantized copy (owned with the model's tensors, taken by no constructor).</summary>
    public const string CopySuffix = "#quantized";
}
