using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>
/// Blip2ForConditionalGeneration, whatever its language model: one generation path. <see cref="Generate(GenerationInputs, GenerationOptions?, CancellationToken)"/>
/// runs the shared prelude here — the inputs checked, the options merged over the checkpoint's defaults and validated
/// once (<see cref="PrepareGeneration"/>), inference mode entered once, vision → Q-Former → projection — and hands the
/// projected queries to the language model's own decoding (<see cref="DecodeFrom"/>: OPT's prompt embeddings,
/// T5's encoder then decoder).
/// </summary>
public abstract class Blip2ConditionalGeneration : Blip2ModelBase
{
    private protected Blip2ConditionalGeneration(LoadedModel loaded, ModelInfo info) : base(loaded, info) { }

    /// <summary>
    /// How one-token decoding steps run (<see cref="Generation.DecodingStep"/>): the static-buffer step (OPT and T5),
    /// eagerly or as a CUDA graph, or the default dynamic step. The initial value comes from <c>BLIP2_DECODING_STEP</c>
    /// (<c>dynamic</c>, <c>static</c>, <c>cuda-graphs</c>).
    /// </summary>
    public DecodingStep DecodingStep { get; set; } = DecodingSteps.FromEnvironment();

    /// <summary>Why CUDA graphs were asked for and not used (said once per model; null while they were not asked for,
    /// or were used).</summary>
    public string? DecodingStepNote => Volatile.Read(ref _decodingStepNote);

    /// <summary>Decoding steps run as CUDA-graph replays so far (benchmarks report runs that replayed).</summary>
    public long GraphReplays => Interlocked.Read(ref _graphReplays);

    private long _graphReplays;

    internal void CountReplay() => Interlocked.Increment(ref _graphReplays);

    /// <summary>Keeps the first reason CUDA graphs were not used.</summary>
    internal void NoteDecodingStep(string note) => Interlocked.CompareExchange(ref _decodingStepNote, note, null);

    private string? _decodingStepNote;

    /// <summary>The continuous-batching engine's rows on this model: <paramref name="slots"/> rows of
    /// <paramref name="capacity"/> positions each, allocated once.</summary>
    internal abstract Serving.IRowBatch NewRowBatch(int slots, int capacity);

    public abstract Tensor ProjectQueries(ForwardContext ctx, Tensor queryOutput);
    public abstract Tensor EmbedTokens(ForwardContext ctx, Tensor inputIds);
    public abstract Tensor Logits(ForwardContext ctx, Tensor hidden);

    /// <summary>
    /// Captions or answers (Hugging Face's <c>generate</c>). OPT's sequences are the prompt followed by the new tokens;
    /// T5's are decoder sequences (decoder start token + new tokens). Everything is checked before the vision tower
    /// runs: the inputs, then the run; then <paramref name="cancellationToken"/>: a cancelled one ends the run with
    /// <see cref="OperationCanceledException"/> before the vision tower, before the prompt's prefill, or between two
    /// decoding steps of any search (greedy, sampling, beam, group beam), whichever comes next, with its KV cache and
    /// tensors released (a caller's mistake is reported as such whatever the token says).
    /// </summary>
    public GenerationResult Generate(GenerationInputs inputs, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var (batch, promptIds) = CheckGenerationInputs(inputs);
        return Run(PrepareGeneration(options, batch, promptIds), inputs, cancellationToken);
    }

    /// <summary>The same, with the inputs as arguments.</summary>
    public GenerationResult Generate(Tensor pixelValues, Tensor? inputIds = null, Tensor? attentionMask = null,
        GenerationOptions? options = null, bool interpolatePosEncoding = false, CancellationToken cancellationToken = default) =>
        Generate(new GenerationInputs(pixelValues, inputIds, attentionMask, interpolatePosEncoding), options, cancellationToken);

    /// <summary>
    /// Runs a prepared generation: the inputs are checked against what was prepared (the prelude does not run again),
    /// then image → queries → the language model's decoding, under inference mode. Cancellation as in
    /// <see cref="Generate(GenerationInputs, GenerationOptions?, CancellationToken)"/>.
    /// </summary>
    internal GenerationResult Run(PreparedGeneration prepared, GenerationInputs inputs, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var (batch, promptIds) = CheckGenerationInputs(inputs);
        if (batch != prepared.Batch || promptIds != prepared.PromptIds)
            throw new InvalidOperationException($"prepared for {prepared.Batch} prompts of {prepared.PromptIds} ids, run with {batch} of {promptIds}");

        using var scope = NewDisposeScope();
        // Everything below stays inside (the result is host arrays): inference mode for the encoding too.
        using var inference = torch.inference_mode();
        var ids = inputs.InputIds is null ? DefaultPrompt(batch) : Input(inputs.InputIds);
        var mask = inputs.AttentionMask is null ? torch.ones_like(ids) : Input(inputs.AttentionMask);

        // Image → queries → projected into the language model, once for all decoding rows.
        var ctx = new ForwardContext();
        var projected = EncodeImages(ctx, inputs.PixelValues, inputs.InterpolatePosEncoding);
        return DecodeFrom(ctx, projected, ids, mask, prepared.Settings, cancellationToken);
    }

    /// <summary>
    /// The encoding every generation shares: pixel values [B, 3, H, W] → vision tower → Q-Former → the projected
    /// queries [B, num_query_tokens, text hidden] the language model takes. (A lone run and the serving engine's
    /// admission of several waiting requests at once both encode through here.)
    /// </summary>
    internal Tensor EncodeImages(ForwardContext ctx, Tensor pixelValues, bool interpolatePosEncoding = false)
    {
        var (image, _) = VisionForward(ctx, Input(pixelValues), interpolatePosEncoding);
        return ProjectQueries(ctx, QFormerForward(ctx, image));
    }

    /// <summary>The language model's part of a run: the prompt with the projected queries in it, decoded with
    /// <see cref="GenerationLoop.Generate"/>, which checks <paramref name="cancellationToken"/> before the prefill and
    /// between steps. Called under inference mode and a dispose scope.</summary>
    private protected abstract GenerationResult DecodeFrom(ForwardContext ctx, Tensor projected, Tensor ids, Tensor mask, GenerationOptions settings,
        CancellationToken cancellationToken);

    /// <summary>
    /// What the decoding loop starts from for a prompt of <paramref name="promptIds"/> ids: the context length
    /// <see cref="GenerationLoop.Generate"/> sees as input ids, and the positions the first decoder step takes (OPT: the
    /// prompt with its query embeddings; T5: the one decoder start token).
    /// </summary>
    private protected abstract (long ContextLength, long FirstStepPositions) DecodingStart(long promptIds);

    /// <summary>The language model's input positions a prompt of <paramref name="promptIds"/> ids takes: legacy
    /// checkpoints (no image_token_index) put the queries in front of the text; otherwise they fill the image tokens
    /// among the ids. (OPT's decoder or T5's encoder; OpenAI's <c>prompt_tokens</c>.)</summary>
    internal long PromptPositions(long promptIds) => promptIds + (ModelInfo.ImageTokenIndex is null ? ModelInfo.NumQueryTokens : 0);

    /// <summary>Checks pixels, ids and mask; returns the batch and the prompt's ids per row (the default prompt's
    /// length without ids).</summary>
    private (long Batch, long PromptIds) CheckGenerationInputs(GenerationInputs inputs)
    {
        var batch = CheckPixels(inputs.PixelValues, inputs.InterpolatePosEncoding);
        if (inputs.InputIds is { } inputIds)
        {
            CheckTokens(inputIds, inputs.AttentionMask, ModelInfo.VocabSize);
            if (inputIds.shape[0] != batch)
                throw new InvalidModelInputException("input_ids", $"{batch} images but {inputIds.shape[0]} prompts: give one prompt row per image");
            return (batch, inputIds.shape[1]);
        }
        if (inputs.AttentionMask is not null) throw new InvalidModelInputException("attention_mask", "given without input_ids");
        // The reference builds [image tokens] + [text_config.bos_token_id]; without a BOS id (T5) it fails.
        if (ModelInfo.BosTokenId is null)
            throw new InvalidModelInputException("input_ids", "required: the language model has no bos_token_id to start a default prompt with (give the prompt's ids, as the processor builds them)");
        return (batch, DefaultPromptLength);
    }

    private long DefaultPromptLength => (ModelInfo.ImageTokenIndex is null ? 0 : ModelInfo.NumQueryTokens) + 1;

    /// <summary>The reference's prompt when none is given: num_query_tokens image tokens (with image_token_index), then BOS.</summary>
    private Tensor DefaultPrompt(long batch)
    {
        var row = new List<long>();
        if (ModelInfo.ImageTokenIndex is long image) for (int i = 0; i < ModelInfo.NumQueryTokens; i++) row.Add(image);
        row.Add(ModelInfo.BosTokenId!.Value);
        return torch.tensor(row.ToArray(), dtype: ScalarType.Int64, device: Device).unsqueeze(0).expand(batch, -1).contiguous();
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
                throw new InvalidModelInputException("input_ids", $"the prompt has {count} image tokens (id {imageToken}) but the images give {projected.shape[0] * projected.shape[1]} query embeddings ({projected.shape[1]} per image): build prompts with the processor");
            return (embeds.masked_scatter(where.unsqueeze(-1).expand_as(embeds), projected), mask);
        }
        var queryMask = torch.ones(projected.shape[0], projected.shape[1], dtype: mask.dtype, device: mask.device);
        return (torch.cat(new[] { projected, embeds }, 1), torch.cat(new[] { queryMask, mask }, 1));
    }

    /// <summary>
    /// The checkpoint's generation_config.json, with the token ids it lacks from config.json (read once, at load) and
    /// then the compiled config. Read on the first generation and kept: the file does not change under a loaded model,
    /// and every caption read it from disk again. (Two racing first calls both read it: the same immutable result.)
    /// </summary>
    private GenerationOptions GenerationDefaultsWithCompiledIds() => _generationDefaults ??= ReadGenerationDefaults();

    private GenerationOptions? _generationDefaults;

    /// <summary>How many times the generation prelude ran on this model (a caption runs it once).</summary>
    internal int PreludeRuns => Volatile.Read(ref _preludeRuns);
    private int _preludeRuns;

    /// <summary>What a run takes for <paramref name="options"/>: the checkpoint's defaults and compiled token ids under them.</summary>
    internal GenerationOptions GenerationSettings(GenerationOptions? options) =>
        GenerationDefaults.Merge(GenerationDefaultsWithCompiledIds(), options);

    /// <summary>Notes on the checkpoint's generation_config.json, read with its defaults (<see cref="GenerationDefaults.Read(string)"/>):
    /// keys this engine does not use, which it ignores.</summary>
    public IReadOnlyList<string> GenerationConfigNotes
    {
        get
        {
            GenerationDefaultsWithCompiledIds();
            return _generationNotes;
        }
    }
    private IReadOnlyList<string> _generationNotes = [];

    private GenerationOptions ReadGenerationDefaults()
    {
        var file = CheckpointDirectory is null ? new GenerationConfigFile(new GenerationOptions(), []) : GenerationDefaults.Read(CheckpointDirectory, CheckpointConfig);
        _generationNotes = file.Notes;
        var defaults = file.Options;
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
    /// <paramref name="rows"/> rows, one-token steps attending to the whole buffers (<see cref="KvCache"/>).
    /// </summary>
    internal KvCache NewDecodingCache(long rows, long capacity, ScalarType dtype) =>
        new((int)ModelInfo.TextLayers, rows, (int)ModelInfo.TextHeads, (int)capacity, (int)ModelInfo.TextHeadDim, dtype, Device)
        {
            AttendWholeCapacity = true,
        };

    /// <summary>
    /// The new tokens a run may ask for after a prompt of <paramref name="promptPositions"/> positions: every new token
    /// but the last is fed back and takes one more position. Null where the language model has no position table (T5).
    /// </summary>
    internal long? MaxNewTokensFor(long promptPositions) =>
        ModelInfo.MaxPositions > 0 ? ModelInfo.MaxPositions - promptPositions + 1 : null;

    /// <summary>The new tokens a prompt of <paramref name="promptIds"/> ids leaves room for (null: no position table).</summary>
    internal long? MaxNewTokensForPrompt(long promptIds) => MaxNewTokensFor(DecodingStart(promptIds).FirstStepPositions);

    /// <summary>
    /// The prelude every generation runs once, before any model work (the captioner runs it before it even decodes
    /// its images): the caller's options over the checkpoint's defaults, validated, resolved against the context
    /// (so the <c>max_length</c> form counts too), and the run checked against the model and
    /// <see cref="DecodingLimits"/>, for <paramref name="batch"/> prompts of <paramref name="promptIds"/> ids. Every new
    /// token but the last is fed back and takes one more position, so the run takes the first step's positions +
    /// max_new_tokens − 1 — as many as Hugging Face's.
    /// </summary>
    internal PreparedGeneration PrepareGeneration(GenerationOptions? options, long batch, long promptIds)
    {
        ThrowIfDisposed();
        Interlocked.Increment(ref _preludeRuns);
        var (contextLength, promptPositions) = DecodingStart(promptIds);
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
        return new PreparedGeneration(settings, plan, batch, promptIds);
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
}
