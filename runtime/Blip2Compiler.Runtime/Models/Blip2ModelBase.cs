using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>Outputs of the vision tower: last_hidden_state (after post_layernorm) and the pooled class token.</summary>
public sealed record VisionOutput(Tensor LastHiddenState, Tensor PoolerOutput, IReadOnlyList<Tensor> HiddenStates);

/// <summary>
/// What every compiled BLIP-2 shares: the vision tower and the Q-Former. The generated class implements the
/// abstract steps (from its graph); the public methods here add the task glue and tensor lifetimes.
/// </summary>
public abstract class Blip2ModelBase : IDisposable
{
    private readonly LoadedModel _loaded;

    protected Blip2ModelBase(LoadedModel loaded, ModelInfo info)
    {
        _loaded = loaded;
        ModelInfo = info;
    }

    public ModelInfo ModelInfo { get; }
    public torch.Device Device => _loaded.Device;
    public torch.ScalarType DType => _loaded.DType;
    public string? CheckpointDirectory => _loaded.CheckpointDirectory;

    public abstract (Tensor LastHiddenState, Tensor PoolerOutput) VisionForward(ForwardContext ctx, Tensor pixelValues, bool interpolate);
    public abstract Tensor QFormerForward(ForwardContext ctx, Tensor imageEmbeds);

    /// <summary>Blip2Model.get_image_features: the vision tower's outputs.</summary>
    public VisionOutput GetImageFeatures(Tensor pixelValues, bool interpolatePosEncoding = false, bool outputHiddenStates = false)
    {
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext { OutputHiddenStates = outputHiddenStates };
        var (last, pooled) = VisionForward(ctx, Input(pixelValues), interpolatePosEncoding);
        return new VisionOutput(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), ctx.HiddenStates.Select(h => h.MoveToOuterDisposeScope()).ToList());
    }

    /// <summary>Blip2Model.get_qformer_features: the Q-Former's last hidden state for the learned queries.</summary>
    public Tensor GetQFormerFeatures(Tensor pixelValues, bool interpolatePosEncoding = false)
    {
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext();
        var (image, _) = VisionForward(ctx, Input(pixelValues), interpolatePosEncoding);
        return QFormerForward(ctx, image).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Puts the projected queries into the prompt embeddings: at the image-token positions (configs with
    /// image_token_index), or in front of the text with the mask extended (the legacy layout).
    /// </summary>
    protected (Tensor Embeds, Tensor Mask) InsertQueries(Tensor embeds, Tensor projected, Tensor inputIds, Tensor mask, bool useImageTokens)
    {
        projected = projected.to_type(embeds.dtype);
        if (useImageTokens && ModelInfo.ImageTokenIndex is long imageToken)
        {
            var where = inputIds.eq(imageToken);
            var count = where.sum().item<long>();
            if (count != projected.shape[0] * projected.shape[1])
                throw new Blip2Exception($"The prompt has {count} image tokens (id {imageToken}) but the images give {projected.shape[0] * projected.shape[1]} query embeddings ({projected.shape[1]} per image): build prompts with the processor.");
            return (embeds.masked_scatter(where.unsqueeze(-1).expand_as(embeds), projected), mask);
        }
        var queryMask = torch.ones(projected.shape[0], projected.shape[1], dtype: mask.dtype, device: mask.device);
        return (torch.cat(new[] { projected, embeds }, 1), torch.cat(new[] { queryMask, mask }, 1));
    }

    /// <summary>
    /// The checkpoint's generation_config.json / config.json; token ids it lacks come from the compiled config. Read
    /// on the first <c>Generate</c> and kept: the files do not change under a loaded model, and every caption read
    /// them from disk again. (Two racing first calls both read them: the same immutable result either way.)
    /// </summary>
    protected Generation.GenerationOptions GenerationDefaultsWithCompiledIds() => _generationDefaults ??= ReadGenerationDefaults();

    private Generation.GenerationOptions? _generationDefaults;

    /// <summary>What <c>Generate</c> runs with for <paramref name="options"/>: the checkpoint's defaults and compiled token ids under them.</summary>
    internal Generation.GenerationOptions GenerationSettings(Generation.GenerationOptions? options) =>
        Generation.GenerationDefaults.Merge(GenerationDefaultsWithCompiledIds(), options);

    private Generation.GenerationOptions ReadGenerationDefaults()
    {
        var defaults = CheckpointDirectory is null ? new Generation.GenerationOptions() : Generation.GenerationDefaults.Load(CheckpointDirectory);
        return defaults with
        {
            EosTokenIds = defaults.EosTokenIds ?? (ModelInfo.EosTokenId is long eos ? new[] { eos } : null),
            PadTokenId = defaults.PadTokenId ?? ModelInfo.PadTokenId,
            BosTokenId = defaults.BosTokenId ?? ModelInfo.BosTokenId,
            DecoderStartTokenId = defaults.DecoderStartTokenId ?? ModelInfo.DecoderStartTokenId,
        };
    }

    /// <summary>
    /// The language model's self-attention cache for one decoding run: <paramref name="capacity"/> positions for
    /// <paramref name="rows"/> rows, one-token steps attending to the whole buffers (<see cref="Generation.KvCache"/>).
    /// </summary>
    internal Generation.KvCache NewDecodingCache(long rows, long capacity, ScalarType dtype) =>
        new((int)ModelInfo.TextLayers, rows, (int)ModelInfo.TextHeads, (int)capacity, (int)ModelInfo.TextHeadDim, dtype, Device)
        {
            AttendWholeCapacity = true,
        };

    /// <summary>Moves an input to the model's device; pixel values take the model's dtype.</summary>
    protected Tensor Input(Tensor t)
    {
        var moved = t.device.type == Device.type && t.device.index == Device.index ? t : t.to(Device);
        return moved.is_floating_point() ? moved.to_type(DType) : moved;
    }

    public void Dispose()
    {
        foreach (var t in _loaded.Tensors.Values) t.Dispose();
        GC.SuppressFinalize(this);
    }
}
