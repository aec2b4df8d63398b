using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>Contrastive outputs: cosine similarities (max over query tokens, no temperature) and the embeddings.</summary>
public sealed record ContrastiveOutput(Tensor LogitsPerImage, Tensor LogitsPerText, Tensor ImageEmbeds, Tensor TextEmbeds);

/// <summary>
/// BLIP-2 image–text retrieval (Blip2ForImageTextRetrieval, Blip2TextModelWithProjection,
/// Blip2VisionModelWithProjection): the Q-Former's text side with ITM and ITC heads.
/// </summary>
public abstract class ImageTextRetrieval : Blip2ModelBase
{
    protected ImageTextRetrieval(LoadedModel loaded, ModelInfo info) : base(loaded, info) { }

    public abstract Tensor ItmLogits(ForwardContext ctx, Tensor imageEmbeds, Tensor inputIds, Tensor mask);
    public abstract Tensor ImageEmbeds(ForwardContext ctx, Tensor queryOutput);
    public abstract Tensor TextEmbeds(ForwardContext ctx, Tensor inputIds, Tensor mask);

    /// <summary>Image–text matching logits [pairs, 2] (no match, match) for pair i = (image i, text i).</summary>
    public Tensor ImageTextMatching(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask = null)
    {
        var images = CheckPixels(pixelValues, false);
        CheckTexts(inputIds, attentionMask);
        if (inputIds.shape[0] != images)
            throw new InvalidModelInputException("input_ids", $"{images} images but {inputIds.shape[0]} texts: matching pairs image i with text i");
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext();
        var (image, _) = VisionForward(ctx, Input(pixelValues), false);
        var ids = Input(inputIds);
        return ItmLogits(ctx, image, ids, attentionMask is null ? torch.ones_like(ids) : Input(attentionMask)).MoveToOuterDisposeScope();
    }

    /// <summary>Image–text contrastive similarities, both ways, with the normalized embeddings.</summary>
    public ContrastiveOutput ImageTextContrastive(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask = null)
    {
        CheckPixels(pixelValues, false);
        CheckTexts(inputIds, attentionMask);
        using var scope = NewDisposeScope();
        var imageEmbeds = GetImageEmbeds(pixelValues);
        var textEmbeds = GetTextEmbeds(inputIds, attentionMask).select(1, 0);
        var perImage = Similarity(imageEmbeds, textEmbeds);   // [images, texts]
        return new ContrastiveOutput(perImage.MoveToOuterDisposeScope(), perImage.t().MoveToOuterDisposeScope(),
            imageEmbeds.MoveToOuterDisposeScope(), textEmbeds.MoveToOuterDisposeScope());
    }

    /// <summary>Blip2VisionModelWithProjection: normalized query embeddings [images, queries, dim].</summary>
    /// <summary>
    /// One image against several texts, its vision tower run once: the ITM logits [texts, 2] (as
    /// <see cref="ImageTextMatching"/> with the image repeated per text) and the ITC similarity [texts] (the best query
    /// of <see cref="ImageTextContrastive"/>).
    /// </summary>
    public (Tensor ItmLogits, Tensor Similarity) ScoreTexts(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask = null)
    {
        if (CheckPixels(pixelValues, false) != 1)
            throw new InvalidModelInputException("pixel_values", $"ScoreTexts takes one image, pixel values [1, 3, H, W]; got [{string.Join(", ", pixelValues.shape)}]");
        CheckTexts(inputIds, attentionMask);
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext();
        var (image, _) = VisionForward(ctx, Input(pixelValues), false);
        var ids = Input(inputIds);
        var mask = attentionMask is null ? torch.ones_like(ids) : Input(attentionMask);
        var itm = ItmLogits(ctx, image.expand(ids.shape[0], -1, -1), ids, mask);
        var imageEmbeds = ImageEmbeds(ctx, QFormerForward(ctx, image));                 // [1, queries, dim]
        var textEmbeds = TextEmbeds(new ForwardContext(), ids, mask).select(1, 0);       // [texts, dim]
        var similarity = Similarity(imageEmbeds, textEmbeds).squeeze(0);
        return (itm.MoveToOuterDisposeScope(), similarity.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Texts the Q-Former's text side can read: ids in its vocabulary (<c>qformer_config.vocab_size</c>) and at most
    /// <c>qformer_config.max_position_embeddings</c> long (its learned position table; the query tokens take none).
    /// </summary>
    private void CheckTexts(Tensor inputIds, Tensor? attentionMask)
    {
        CheckTokens(inputIds, attentionMask, QFormerVocabSize);
        if (inputIds.shape[1] > ModelInfo.QFormerMaxPositions)
            throw new InputTooLongException("the Q-Former's text side", inputIds.shape[1], ModelInfo.QFormerMaxPositions);
    }

    private long QFormerVocabSize =>
        ModelInfo.Config.FirstOrDefault(c => c.Path == "qformer_config.vocab_size")?.Value is long size ? size : 0;

    /// <summary>ITC: each image's best query against each text, [images, queries, dim] × [texts, dim] → [images, texts].</summary>
    private static Tensor Similarity(Tensor imageEmbeds, Tensor textEmbeds) =>
        torch.matmul(imageEmbeds, textEmbeds.t()).max(1).values;

    public Tensor GetImageEmbeds(Tensor pixelValues)
    {
        CheckPixels(pixelValues, false);
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext();
        var (image, _) = VisionForward(ctx, Input(pixelValues), false);
        return ImageEmbeds(ctx, QFormerForward(ctx, image)).MoveToOuterDisposeScope();
    }

    /// <summary>Blip2TextModelWithProjection: normalized token embeddings [texts, tokens, dim].</summary>
    public Tensor GetTextEmbeds(Tensor inputIds, Tensor? attentionMask = null)
    {
        CheckTexts(inputIds, attentionMask);
        using var scope = NewDisposeScope();
        var ids = Input(inputIds);
        return TextEmbeds(new ForwardContext(), ids, attentionMask is null ? torch.ones_like(ids) : Input(attentionMask)).MoveToOuterDisposeScope();
    }
}
