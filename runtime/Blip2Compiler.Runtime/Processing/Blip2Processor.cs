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
    {
        Images = images;
        Tokenizer = tokenizer;
        Prompts = new Blip2PromptBuilder(tokenizer, numQueryTokens, imageTokenId);
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
        QueryTokens(model);
        return new Blip2Processor(Blip2ImageProcessor.Load(checkpointDirectory), TokenizerLoader.Load(checkpointDirectory), model);
    }

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

    /// <summary>The text half of <see cref="Process"/> alone (cheap: no image is decoded), for
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
