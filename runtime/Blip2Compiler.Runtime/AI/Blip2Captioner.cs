using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.AI;

/// <summary>
/// Captioning and visual question answering end to end: images and prompts in, text out. Pairs a
/// conditional-generation model (OPT or Flan-T5) with its checkpoint's image processor, tokenizer and
/// generation_config.json defaults, as Hugging Face's <c>Blip2Processor</c> + <c>generate</c> + <c>batch_decode</c>.
/// The model stays owned by the caller.
/// </summary>
public sealed class Blip2Captioner
{
    private readonly Blip2Processor _processor;

    /// <summary>A captioner over <paramref name="model"/>; <paramref name="defaults"/> are options over the checkpoint's
    /// generation_config.json (which the model reads once), null for none.</summary>
    public Blip2Captioner(Blip2ModelBase model, Blip2ImageProcessor images, ITextTokenizer tokenizer, GenerationOptions? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model as Blip2ConditionalGeneration
            ?? throw new Blip2Exception($"captioning needs a Blip2ForConditionalGeneration model (OPT or Flan-T5); this one is {model.ModelInfo.Architecture}");
        Images = images ?? throw new ArgumentNullException(nameof(images));
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        Defaults = defaults ?? new GenerationOptions();
        // The compiled model's own query count and image token decide the prompt layout.
        _processor = new Blip2Processor(images, tokenizer, model.ModelInfo);
    }

    /// <summary>The processor and tokenizer of a checkpoint folder (the model's own folder by default); the generation
    /// defaults are the model's own (its generation_config.json, read once by the model).</summary>
    public static Blip2Captioner FromCheckpoint(Blip2ModelBase model, string? checkpointDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var dir = checkpointDirectory ?? model.CheckpointDirectory
            ?? throw new Blip2Exception("the model was not loaded from a folder: give the checkpoint folder that holds its tokenizer and preprocessor_config.json");
        return new Blip2Captioner(model, Blip2ImageProcessor.Load(dir), TokenizerLoader.Load(dir));
    }

    /// <summary>
    /// Notes on the model's generation_config.json (<see cref="Blip2ConditionalGeneration.GenerationConfigNotes"/>):
    /// keys this engine does not use, which it ignores.
    /// </summary>
    public IReadOnlyList<string> DefaultsNotes => Model.GenerationConfigNotes;

    public Blip2ConditionalGeneration Model { get; }
    public Blip2ImageProcessor Images { get; }
    public ITextTokenizer Tokenizer { get; }

    /// <summary>Options over the model's generation defaults (its checkpoint's generation_config.json); options given
    /// to <see cref="Caption(IReadOnlyList{ImageSource}, IReadOnlyList{string?}?, GenerationOptions?, CancellationToken)"/> override both.</summary>
    public GenerationOptions Defaults { get; }

    /// <summary>The Hugging Face VQA prompt the BLIP-2 papers use.</summary>
    public static string QuestionPrompt(string question) => $"Question: {question.Trim()} Answer:";

    /// <summary>
    /// One text per image: the caption continuing each prompt (null or empty: a plain caption). With beam search
    /// or sampling the best sequence is returned. <paramref name="cancellationToken"/> is checked once the prompts and
    /// options have passed (a caller's mistake is reported as such whatever the token says), before any image is
    /// decoded, and then before the vision tower and every decoding step (whatever the search): a cancelled run ends
    /// with <see cref="OperationCanceledException"/>, nothing of it kept.
    /// </summary>
    public IReadOnlyList<string> Caption(IReadOnlyList<ImageSource> images, IReadOnlyList<string?>? prompts = null, GenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        return [.. Captions(images, prompts, (options ?? new GenerationOptions()) with { NumReturnSequences = 1 }, cancellationToken).Select(texts => texts[0])];
    }

    /// <summary>
    /// Every returned sequence per image (<c>num_return_sequences</c> of them, best first for beam search): the texts
    /// continuing each prompt, trimmed, each ending before the first of the options' <c>stop_strings</c> it holds.
    /// Cancellation as in <see cref="Caption(IReadOnlyList{ImageSource}, IReadOnlyList{string?}?, GenerationOptions?, CancellationToken)"/>.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> Captions(IReadOnlyList<ImageSource> images, IReadOnlyList<string?>? prompts = null, GenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        Model.ThrowIfDisposed();
        if (images.Count == 0) return [];

        var merged = WithTokenizer(GenerationDefaults.Merge(Defaults, options));
        // The prompts first: a run the model cannot take (too long, too many beams) fails before any image is decoded.
        var prompt = _processor.BuildPrompts(images.Count, prompts);
        var prepared = Model.PrepareGeneration(merged, prompt.BatchSize, prompt.SequenceLength);
        cancellationToken.ThrowIfCancellationRequested();
        using var scope = torch.NewDisposeScope();
        var pixels = Images.Preprocess(images);
        var (ids, mask) = prompt.ToTensors();
        var result = Model.Run(prepared, new GenerationInputs(pixels, ids, mask), cancellationToken);
        return Texts(result, merged, images.Count);
    }

    /// <summary>
    /// One text per image of a batch already preprocessed (<paramref name="pixelValues"/> [B, 3, H, W] as
    /// <see cref="Blip2ImageProcessor.Preprocess(IReadOnlyList{ImageSource})"/> makes it): what a pipeline that decodes and
    /// resizes on other threads hands the model. Otherwise as <see cref="Caption(IReadOnlyList{ImageSource}, IReadOnlyList{string?}?, GenerationOptions?, CancellationToken)"/>.
    /// </summary>
    public IReadOnlyList<string> Caption(Tensor pixelValues, IReadOnlyList<string?>? prompts = null, GenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        Model.ThrowIfDisposed();
        if (pixelValues.dim() != 4 || pixelValues.shape[1] != 3)
            throw new InvalidModelInputException("pixel_values", $"must be [batch, 3, height, width], got [{string.Join(", ", pixelValues.shape)}]");
        var count = checked((int)pixelValues.shape[0]);
        if (count == 0) return [];

        var merged = WithTokenizer(GenerationDefaults.Merge(Defaults, options) with { NumReturnSequences = 1 });
        var prompt = _processor.BuildPrompts(count, prompts);
        var prepared = Model.PrepareGeneration(merged, prompt.BatchSize, prompt.SequenceLength);
        using var scope = torch.NewDisposeScope();
        var (ids, mask) = prompt.ToTensors();
        var result = Model.Run(prepared, new GenerationInputs(pixelValues, ids, mask), cancellationToken);
        return [.. Texts(result, merged, count).Select(texts => texts[0])];
    }

    // Each image's returned sequences as texts (num_return_sequences of them, in the result's order).
    private IReadOnlyList<IReadOnlyList<string>> Texts(GenerationResult result, GenerationOptions merged, int images)
    {
        var texts = result.NewTokens.Select(tokens => Text(tokens, merged.StopStrings)).ToArray();
        var copies = texts.Length / images;
        return [.. texts.Chunk(copies)];
    }

    /// <summary>
    /// The text of one row's new tokens: decoded (special tokens dropped), cut before the first stop string, trimmed.
    /// </summary>
    public string Text(IEnumerable<long> newTokens, IReadOnlyList<string>? stopStrings = null) =>
        StopStringCriteria.Cut(Tokenizer.Decode(newTokens.Select(id => checked((int)id))), stopStrings).Trim();

    // Stop strings need a tokenizer to decode rows (Hugging Face's generate(tokenizer=...)): the checkpoint's own.
    private GenerationOptions WithTokenizer(GenerationOptions options) =>
        options.StopStrings is { Count: > 0 } && options.Tokenizer is null ? options with { Tokenizer = Tokenizer } : options;

    /// <summary>
    /// One image and prompt, every returned sequence (<c>num_return_sequences</c> of them, best first), as token ids:
    /// what a server needs to report each choice and its token counts. Throws <see cref="PromptTooLongException"/>
    /// before any model work when the prompt plus the new tokens do not fit the language model's positions.
    /// Cancellation as in <see cref="Caption(IReadOnlyList{ImageSource}, IReadOnlyList{string?}?, GenerationOptions?, CancellationToken)"/>.
    /// </summary>
    public GenerationResult Generate(ImageSource image, string? prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        Model.ThrowIfDisposed();
        var merged = WithTokenizer(GenerationDefaults.Merge(Defaults, options));
        var built = _processor.BuildPrompts(1, [prompt]);
        var prepared = Model.PrepareGeneration(merged, built.BatchSize, built.SequenceLength);
        cancellationToken.ThrowIfCancellationRequested();
        using var scope = torch.NewDisposeScope();
        var pixels = Images.Preprocess([image]);
        var (ids, mask) = built.ToTensors();
        return Model.Run(prepared, new GenerationInputs(pixels, ids, mask), cancellationToken);
    }

    /// <summary>
    /// The language-model positions a prompt takes: the image's query tokens, BOS and the text (OpenAI's
    /// <c>prompt_tokens</c>). Null or empty: a plain caption's prompt.
    /// </summary>
    public int PromptPositions(string? prompt) => checked((int)Model.PromptPositions(_processor.Prompts.BuildIds(prompt).Count));

    /// <summary>The new tokens a request may ask for at most with this prompt (0: the prompt alone is past the model's positions).</summary>
    public int? MaxNewTokensFor(string? prompt)
    {
        // The generation prelude's own rule, so a prompt fitted here is one Generate takes (T5's decoder starts from
        // one token whatever the prompt, and has no position table).
        return Model.MaxNewTokensForPrompt(_processor.Prompts.BuildIds(prompt).Count) is { } room ? (int)Math.Max(0, room) : null;
    }

    /// <summary>
    /// One caption, streamed: <paramref name="onText"/> receives each new piece of text as tokens are decoded
    /// (greedy search or sampling; with beam search the whole text arrives at the end). Returns the full text.
    /// Cancellation as in <see cref="Caption(IReadOnlyList{ImageSource}, IReadOnlyList{string?}?, GenerationOptions?, CancellationToken)"/>.
    /// </summary>
    public string CaptionStreaming(ImageSource image, string? prompt, GenerationOptions? options, Action<string> onText,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onText);
        Model.ThrowIfDisposed();
        var tokens = new List<int>();
        var sent = "";
        // With stop strings, text that could still turn out to begin one is held back until it cannot (SequenceText).
        var stops = options?.StopStrings ?? Defaults.StopStrings;
        var held = stops is { Count: > 0 } ? new Serving.SequenceText(stops) : null;
        void Emit(string text)
        {
            if (held is not null)
            {
                var piece = held.Update(text);
                if (piece.Length > 0) onText(piece);
                return;
            }
            // Decode everything so far and send what is new: byte-level BPE pieces only make text together.
            if (text.Length > sent.Length && text.StartsWith(sent, StringComparison.Ordinal)) onText(text[sent.Length..]);
            sent = text;
        }
        // The EOS ids the run stops on: the model's settings for these options (its generation_config.json, then config.json).
        var eos = new HashSet<long>(Model.GenerationSettings(GenerationDefaults.Merge(Defaults, options)).EosTokenIds ?? []);
        var caller = options?.OnTokens;
        var finished = false;
        var streaming = (options ?? new GenerationOptions()) with
        {
            OnTokens = step =>
            {
                caller?.Invoke(step);   // the caller's own hook first
                // A row that stopped on a stop string without an EOS id goes on with real tokens (as Hugging Face's).
                if (finished || eos.Contains(step[0])) { finished = true; return; }
                tokens.Add(checked((int)step[0]));
                Emit(Tokenizer.Decode(tokens).TrimStart());
                if (held is { Stopped: true }) finished = true;
            },
        };
        var text = Caption([image], [prompt], streaming, cancellationToken)[0];
        if (held is not null)
        {
            var rest = held.Finish();
            if (rest.Length > 0) onText(rest);
            return text;
        }
        Emit(text);
        return text;
    }
}
