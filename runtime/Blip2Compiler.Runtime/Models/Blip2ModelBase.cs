using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using Blip2Compiler.Nn.Quantization;
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

    /// <summary>The parameters loaded quantized (<see cref="Blip2LoadOptions.Quantization"/>), by name; a tied LM
    /// head's quantized copy appears under its table's name.</summary>
    public IReadOnlyList<(string Parameter, QuantizedWeight Weight)> QuantizedParameters =>
        _loaded.Tensors.Select(p => (p.Key, Weight: QuantizedWeights.Find(p.Value))).Where(p => p.Weight is not null).Select(p => (p.Key, p.Weight!)).ToList();

    /// <summary>Bytes of every parameter as held (quantized weights: packed data + scales).</summary>
    public long ParameterBytes => _loaded.Tensors.Values.Sum(t => t.NumberOfElements * t.ElementSize
        + (QuantizedWeights.Find(t)?.Scales.LongLength ?? 0) * sizeof(float));

    /// <summary>True once <see cref="Dispose"/> ran: the parameters are freed, and every entry point throws
    /// <see cref="ObjectDisposedException"/> (libtorch would otherwise fail with "Tensor invalid -- empty handle").</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the model was disposed; the public entry points of
    /// the model and of everything built on it (captioner, retriever, chat client, embedding generators) call it first.</summary>
    public void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    public abstract (Tensor LastHiddenState, Tensor PoolerOutput) VisionForward(ForwardContext ctx, Tensor pixelValues, bool interpolate);
    public abstract Tensor QFormerForward(ForwardContext ctx, Tensor imageEmbeds);

    /// <summary>Blip2Model.get_image_features: the vision tower's outputs.</summary>
    public VisionOutput GetImageFeatures(Tensor pixelValues, bool interpolatePosEncoding = false, bool outputHiddenStates = false)
    {
        CheckPixels(pixelValues, interpolatePosEncoding);
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext { OutputHiddenStates = outputHiddenStates };
        var (last, pooled) = VisionForward(ctx, Input(pixelValues), interpolatePosEncoding);
        return new VisionOutput(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), ctx.HiddenStates.Select(h => h.MoveToOuterDisposeScope()).ToList());
    }

    /// <summary>Blip2Model.get_qformer_features: the Q-Former's last hidden state for the learned queries.</summary>
    public Tensor GetQFormerFeatures(Tensor pixelValues, bool interpolatePosEncoding = false)
    {
        CheckPixels(pixelValues, interpolatePosEncoding);
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

    /// <summary>
    /// The new tokens a run may ask for after a prompt of <paramref name="promptPositions"/> positions: every new token
    /// but the last is fed back and takes one more position. Null where the language model has no position table (T5).
    /// </summary>
    internal long? MaxNewTokensFor(long promptPositions) =>
        ModelInfo.MaxPositions > 0 ? ModelInfo.MaxPositions - promptPositions + 1 : null;

    /// <summary>
    /// The prelude every generation runs once, before any model work (the captioner runs it before it even decodes
    /// its images): the caller's options over the checkpoint's defaults, validated, resolved against the context
    /// (so the <c>max_length</c> form counts too), and the run checked against the model and
    /// <see cref="DecodingLimits"/>. <paramref name="contextLength"/> is what <see cref="Decoder.Generate"/> sees as
    /// input ids; <paramref name="promptPositions"/> the positions the first decoder step takes (OPT: the prompt with
    /// its query embeddings; T5: the decoder start token). Every new token but the last is fed back and takes one
    /// more, so the run takes promptPositions + max_new_tokens − 1 positions — as many as Hugging Face's.
    /// </summary>
    private protected GenerationOptions PrepareGeneration(GenerationOptions? options, long batch, long contextLength, long promptPositions)
    {
        ThrowIfDisposed();
        var settings = GenerationDefaults.Merge(GenerationDefaultsWithCompiledIds(), options);
        if (contextLength > int.MaxValue)
            throw new DecodingTooLargeException("the context", contextLength, int.MaxValue);
        var plan = GenerationPlan.Resolve(settings, (int)contextLength);

        plan.CheckRows(batch);

        var needed = promptPositions + plan.MaxNewTokens - 1;
        if (MaxNewTokensFor(promptPositions) is { } room)
        {
            if (plan.MaxNewTokens > room)
                throw new PromptTooLongException(checked((int)promptPositions), plan.MaxNewTokens, checked((int)ModelInfo.MaxPositions));
        }
        else if (needed > DecodingLimits.MaxUnboundedPositions)
            throw new DecodingTooLargeException($"decoder positions ({promptPositions} + {plan.MaxNewTokens} new tokens − 1)", needed,
                DecodingLimits.MaxUnboundedPositions, $"ask for at most {DecodingLimits.MaxUnboundedPositions - promptPositions + 1} new tokens");

        CheckCacheFits(plan.Rows(batch), promptPositions + plan.MaxNewTokens);

        // Ids the decoder embeds or indexes the logits with: outside the vocabulary they would fail inside libtorch.
        var vocab = ModelInfo.VocabSize;
        void InVocabulary(string option, long? id)
        {
            if (vocab > 0 && id is { } v && v >= vocab)
                throw new InvalidGenerationOptionException(option, v, $"is outside the vocabulary (ids 0 to {vocab - 1})");
        }
        foreach (var eos in plan.EosTokenIds ?? []) InVocabulary("eos_token_id", eos);
        // Beam search keeps (1 + #eos) × num_beams candidates of num_beams × vocab: the list must leave a token to continue.
        if (plan.EosTokenIds is { } eosIds && vocab > 0 && eosIds.Length >= vocab)
            throw new InvalidGenerationOptionException("eos_token_id", eosIds, $"lists {eosIds.Length} ids; at most {vocab - 1} (the vocabulary has {vocab})");
        InVocabulary("pad_token_id", plan.PadTokenId);
        // Forced and banned ids index the scores (Hugging Face refuses banned ids outside the vocabulary too);
        // suppressed ids outside it match nothing, there as here.
        InVocabulary("forced_bos_token_id", plan.ForcedBosTokenId);
        foreach (var id in plan.ForcedEosTokenIds ?? []) InVocabulary("forced_eos_token_id", id);
        foreach (var word in plan.BadWordsIds ?? []) foreach (var id in word) InVocabulary("bad_words_ids", id);
        InVocabulary("decoder_start_token_id", settings.DecoderStartTokenId);
        return settings;
    }

    /// <summary>
    /// The preallocated KV cache (layers × 2 × rows × heads × positions × head_dim elements) must fit in the memory
    /// the process may use, on CPU: a run within every other bound can still ask for more (128 beams of OPT-2.7b at
    /// 2,048 positions: 86 GB), and libtorch fills the buffers with zeros, so such a run would take the machine's memory
    /// page by page before failing. (On a GPU an out-of-memory allocation fails at once, inside libtorch.)
    /// </summary>
    private void CheckCacheFits(long rows, long positions)
    {
        if (Device.type != DeviceType.CPU) return;
        var element = DType switch { ScalarType.Float64 => 8L, ScalarType.Float32 => 4L, _ => 2L };
        var perPosition = ModelInfo.TextLayers * 2 * ModelInfo.TextHeads * ModelInfo.TextHeadDim * element;
        var bytes = (double)rows * positions * perPosition;
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0 && bytes > available)
            throw new DecodingTooLargeException($"the KV cache ({rows} rows × {positions} positions × {perPosition} bytes)",
                bytes > long.MaxValue ? long.MaxValue : (long)bytes, available, "more bytes than this machine's memory: decode fewer rows or tokens at once");
    }

    /// <summary>Pixel values the vision tower can take: floating point [batch ≥ 1, 3, image_size, image_size] (any
    /// size of at least one patch with <paramref name="interpolate"/>). Returns the batch size.</summary>
    protected long CheckPixels(Tensor pixelValues, bool interpolate)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(pixelValues);
        var shape = pixelValues.shape;
        string Shape() => "[" + string.Join(", ", shape) + "]";
        var expected = interpolate ? $"[batch, 3, H, W] with H, W ≥ {ModelInfo.PatchSize}" : $"[batch, 3, {ModelInfo.ImageSize}, {ModelInfo.ImageSize}]";
        if (shape.Length != 4 || shape[0] < 1 || shape[1] != 3)
            throw new InvalidModelInputException("pixel_values", $"expected {expected}, got {Shape()}");
        if (interpolate ? shape[2] < ModelInfo.PatchSize || shape[3] < ModelInfo.PatchSize : shape[2] != ModelInfo.ImageSize || shape[3] != ModelInfo.ImageSize)
            throw new InvalidModelInputException("pixel_values", $"expected {expected}, got {Shape()}" +
                (interpolate ? "" : " (pass interpolatePosEncoding: true for other sizes)"));
        if (!pixelValues.is_floating_point())
            throw new InvalidModelInputException("pixel_values", $"expected floating-point values, got {pixelValues.dtype}");
        return shape[0];
    }

    /// <summary>
    /// Token ids [batch ≥ 1, length ≥ 1] of an integer dtype, each in [0, <paramref name="vocab"/>), and an attention
    /// mask of the same shape holding only 0 and 1 (positions are counted from it). One host read for all four bounds.
    /// </summary>
    protected void CheckTokens(Tensor inputIds, Tensor? attentionMask, long vocab, string what = "input_ids")
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(inputIds);
        var shape = inputIds.shape;
        if (shape.Length != 2 || shape[0] < 1 || shape[1] < 1)
            throw new InvalidModelInputException(what, $"expected [batch, length] with both at least 1, got [{string.Join(", ", shape)}]");
        if (inputIds.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new InvalidModelInputException(what, $"expected int64 token ids, got {inputIds.dtype}");
        if (attentionMask is not null && !attentionMask.shape.SequenceEqual(shape))
            throw new InvalidModelInputException("attention_mask", $"expected the shape of {what} [{string.Join(", ", shape)}], got [{string.Join(", ", attentionMask.shape)}]");
        if (attentionMask is not null && (attentionMask.is_floating_point() || attentionMask.is_complex()))
            throw new InvalidModelInputException("attention_mask", $"expected integer or bool values, got {attentionMask.dtype}");

        using var scope = NewDisposeScope();
        var bounds = attentionMask is null
            ? torch.stack([inputIds.min(), inputIds.max()]).to_type(ScalarType.Int64).cpu().data<long>().ToArray()
            : torch.stack([inputIds.min().to_type(ScalarType.Int64), inputIds.max().to_type(ScalarType.Int64),
                attentionMask.min().to_type(ScalarType.Int64), attentionMask.max().to_type(ScalarType.Int64)]).cpu().data<long>().ToArray();
        if (bounds[0] < 0 || vocab > 0 && bounds[1] >= vocab)
            throw new InvalidModelInputException(what, $"token ids must lie in [0, {vocab - 1}] (the vocabulary), found {(bounds[0] < 0 ? bounds[0] : bounds[1])}");
        if (bounds.Length == 4 && (bounds[2] < 0 || bounds[3] > 1))
            throw new InvalidModelInputException("attention_mask", $"must hold only 0 and 1, found {(bounds[2] < 0 ? bounds[2] : bounds[3])}");
    }

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        foreach (var t in _loaded.Tensors.Values) t.Dispose();
        GC.SuppressFinalize(this);
    }
}
