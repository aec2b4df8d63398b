using Blip2Compiler.Models;
using Blip2Compiler.Processing;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.AI;

/// <summary>
/// Image–text retrieval end to end (Blip2ForImageTextRetrieval with its processor and tokenizer): match scores
/// and normalized embeddings for images and texts. Texts are cut to the Q-Former's maximum positions. The model
/// stays owned by the caller.
/// </summary>
public sealed class Blip2Retriever
{
    private readonly Blip2PromptBuilder _texts;

    public Blip2Retriever(ImageTextRetrieval model, Blip2ImageProcessor images, ITextTokenizer tokenizer)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Images = images ?? throw new ArgumentNullException(nameof(images));
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        // BERT-style text alone ([CLS] text [SEP]), padded on the right as the reference processor does.
        _texts = new Blip2PromptBuilder(tokenizer, 0, null) { PaddingSide = PaddingSide.Right };
    }

    public static Blip2Retriever FromCheckpoint(ImageTextRetrieval model, string? checkpointDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var dir = checkpointDirectory ?? model.CheckpointDirectory
            ?? throw new Blip2Exception("the model was not loaded from a folder: give the checkpoint folder that holds its tokenizer and preprocessor_config.json");
        return new Blip2Retriever(model, Blip2ImageProcessor.Load(dir), TokenizerLoader.Load(dir));
    }

    public ImageTextRetrieval Model { get; }
    public Blip2ImageProcessor Images { get; }
    public ITextTokenizer Tokenizer { get; }

    /// <summary>Width of the embeddings (<c>image_text_hidden_size</c>).</summary>
    public int Dimensions => checked((int)Model.ModelInfo.ImageTextHiddenSize);

    /// <summary>One score per text, in order.</summary>
    public IReadOnlyList<ImageTextScore> Match(ImageSource image, IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        Model.ThrowIfDisposed();
        if (texts.Count == 0) return [];
        using var scope = NewDisposeScope();
        using var inference = inference_mode();   // only host arrays leave
        var pixels = Images.Preprocess([image]);
        var (ids, mask) = Tokenize(texts);
        var (itm, itc) = Model.ScoreTexts(pixels, ids, mask);   // the vision tower once, not once per text
        var match = Rows(itm.softmax(-1).select(1, 1).unsqueeze(1));
        var similarity = Rows(itc.unsqueeze(1));
        return [.. texts.Select((text, i) => new ImageTextScore(text, match[i][0], similarity[i][0]))];
    }

    /// <summary>The projected [CLS] embedding of each text, L2-normalized (what contrastive scores compare).</summary>
    public float[][] EmbedTexts(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        Model.ThrowIfDisposed();
        if (texts.Count == 0) return [];
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var (ids, mask) = Tokenize(texts);
        return Rows(Model.GetTextEmbeds(ids, mask).select(1, 0));
    }

    /// <summary>
    /// One vector per image: the mean of its normalized query embeddings, normalized again. (Contrastive scores
    /// take the best query instead; use <see cref="ImageTextRetrieval.GetImageEmbeds"/> for all of them.)
    /// </summary>
    public float[][] EmbedImages(IReadOnlyList<ImageSource> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        Model.ThrowIfDisposed();
        if (images.Count == 0) return [];
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var queries = Model.GetImageEmbeds(Images.Preprocess(images));
        return Rows(nn.functional.normalize(queries.mean([1]), p: 2, dim: -1));
    }

    /// <summary>
    /// <see cref="EmbedImages(IReadOnlyList{ImageSource})"/> for a batch already preprocessed (<paramref name="pixelValues"/>
    /// [B, 3, H, W] as <see cref="Blip2ImageProcessor.Preprocess(IReadOnlyList{ImageSource})"/> makes it).
    /// </summary>
    public float[][] EmbedImages(Tensor pixelValues)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        Model.ThrowIfDisposed();
        if (pixelValues.dim() != 4 || pixelValues.shape[1] != 3)
            throw new InvalidModelInputException("pixel_values", $"must be [batch, 3, height, width], got [{string.Join(", ", pixelValues.shape)}]");
        if (pixelValues.shape[0] == 0) return [];
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var queries = Model.GetImageEmbeds(pixelValues);
        return Rows(nn.functional.normalize(queries.mean([1]), p: 2, dim: -1));
    }

    private (Tensor Ids, Tensor Mask) Tokenize(IReadOnlyList<string> texts) =>
        _texts.Build([.. texts], maxLength: checked((int)Model.ModelInfo.QFormerMaxPositions)).ToTensors();

    private static float[][] Rows(Tensor matrix)
    {
        using var host = matrix.detach().to_type(ScalarType.Float32).cpu().contiguous();
        var flat = host.data<float>().ToArray();
        int width = (int)host.shape[1];
        return [.. Enumerable.Range(0, (int)host.shape[0]).Select(r => flat.AsSpan(r * width, width).ToArray())];
    }
}
