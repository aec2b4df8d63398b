using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Processing;

/// <summary>Model inputs for a batch: pixel values [B,3,H,W], prompt ids and mask [B,T] (left padded).</summary>
public sealed record Blip2Inputs(Tensor PixelValues, Tensor InputIds, Tensor AttentionMask);

/// <summary>
/// Hugging Face's Blip2Processor: the image processor and the checkpoint's tokenizer, with prompts laid out as the
/// model expects (num_query_tokens image tokens + BOS + text where the config has image_token_index).
/// </summary>
public sealed class Blip2Processor
{
    public Blip2Processor(Blip2ImageProcessor images, ITextTokenizer tokenizer, int numQueryTokens, int? imageTokenId)
        : this(images, tokenizer, new Blip2PromptBuilder(tokenizer, numQueryTokens, imageTokenId))
    {
    }

    /// <summary>A processor whose prompt builder carries the tokenizer's padding and truncation settings.</summary>
    public Blip2Processor(Blip2ImageProcessor images, ITextTokenizer tokenizer, Blip2PromptBuilder prompts)
    {
        Images = images;
        Tokenizer = tokenizer;
        Prompts = prompts;
    }

    public Blip2ImageProcessor Images { get; }
    public ITextTokenizer Tokenizer { get; }
    public Blip2PromptBuilder Prompts { get; }

    /// <summary>The prompt layout of a compiled model: its num_query_tokens image tokens (image_token_index), as the
    /// model's config decides it — the model's own facts, never a processor default.</summary>
    public Blip2Processor(Blip2ImageProcessor images, ITextTokenizer tokenizer, Models.ModelInfo model)
        : this(images, tokenizer, QueryTokens(model), ImageToken(model)) { }

    /// <summary>Reads the checkpoint's own preprocessor and tokenizer files; the prompt layout is the compiled
    /// model's (<paramref name="model"/>).</summary>
    public static Blip2Processor Load(string checkpointDirectory, Models.ModelInfo model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var queries = QueryTokens(model);
        var images = Blip2ImageProcessor.Load(checkpointDirectory);
        var tokenizer = TokenizerLoader.Load(checkpointDirectory);
        var config = TokenizerConfig.Load(checkpointDirectory);
        return new Blip2Processor(images, tokenizer, new Blip2PromptBuilder(tokenizer, queries, ImageToken(model))
        {
            TokenizerPaddingSide = config.PaddingSide ?? PaddingSide.Right,
            TruncationSide = config.TruncationSide ?? PaddingSide.Right,
            ModelMaxLength = config.ModelMaxLength,
        });
    }

    /// <summary>
    /// Hugging Face's <c>processor(images=images, text=texts, padding=…, truncation=…, max_length=…)</c>: pixel values,
    /// and the texts encoded as <see cref="ProcessText"/> does (one text per image).
    /// </summary>
    public Blip2Inputs Process(IReadOnlyList<ImageSource> images, IReadOnlyList<string?> texts, TextEncodingOptions options)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count != images.Count)
            throw new TextEncodingException("text", $"{images.Count} images but {texts.Count} texts: give one text per image");
        var batch = ProcessText(texts, options);
        var pixels = Images.Preprocess(images);
        var (ids, mask) = batch.ToTensors();
        return new Blip2Inputs(pixels, ids, mask);
    }

    /// <summary>
    /// The text-only call, <c>processor(text=texts, …)</c> (retrieval texts, or prompts built before their images): no
    /// image is read. Hugging Face's semantics (<see cref="Blip2PromptBuilder.Encode"/>): padding, truncation and
    /// max_length apply to each text's tokenizer encoding, then the image tokens go in front. The default is
    /// <c>padding="longest"</c> on the tokenizer's padding side (a batch must be rectangular; Hugging Face's own default,
    /// no padding, fails to make a tensor of unequal rows).
    /// </summary>
    public PromptBatch ProcessText(IReadOnlyList<string?> texts, TextEncodingOptions? options = null) => Prompts.Encode(texts, options);

    private static int QueryTokens(Models.ModelInfo model) => model.NumQueryTokens is > 0 and <= int.MaxValue ? (int)model.NumQueryTokens
        : throw new Blip2Exception($"{(model.Architecture.Length > 0 ? model.Architecture : "the model")} has no query tokens (num_query_tokens {model.NumQueryTokens}): its prompts take no image");

    private static int? ImageToken(Models.ModelInfo model) => model.ImageTokenIndex is { } id ? checked((int)id) : null;

    /// <summary>Pixel values and prompt ids for a batch; prompts may be null (caption) or one per image.</summary>
    public Blip2Inputs Process(IReadOnlyList<ImageSource> images, IReadOnlyList<string?>? prompts = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        var batch = BuildPrompts(images.Count, prompts);
        var pixels = Images.Preprocess(images);
        var (ids, mask) = batch.ToTensors();
        return new Blip2Inputs(pixels, ids, mask);
    }

    /// <summary>The text half of <see cref="Process(IReadOnlyList{ImageSource}, IReadOnlyList{string}?)"/> alone (cheap: no image is decoded), for
    /// <paramref name="imageCount"/> images; prompts may be null (caption) or one per image.</summary>
    public PromptBatch BuildPrompts(int imageCount, IReadOnlyList<string?>? prompts = null)
    {
        if (prompts is not null && prompts.Count != imageCount)
            throw new Blip2Exception($"{imageCount} images but {prompts.Count} prompts: give one prompt per image (or none).");
        return Prompts.Build(prompts ?? Enumerable.Repeat<string?>(null, imageCount).ToList());
    }

    /// <summary>Text of new tokens, special tokens dropped, trimmed as the reference's batch_decode + strip.</summary>
    public IReadOnlyList<string> Decode(IEnumerable<IEnumerable<long>> newTokens) =>
        Prompts.DecodeBatch(newTokens).Select(t => t.Trim()).ToList();
}
