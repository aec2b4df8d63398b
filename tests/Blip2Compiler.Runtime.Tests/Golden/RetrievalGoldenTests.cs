namespace Blip2Compiler.Tests.Golden;

[Trait("Category", "Golden")]
public class RetrievalGoldenTests
{
    [Fact]
    public void ImageTextMatchingMatchesReference()
    {
        using var g = new GoldenCase("blip2-itm");
        using var model = GoldenItm.Load(g.ModelDirectory);
        TensorAssert.Close(g["itm.logits_per_image"], model.ImageTextMatching(g["pixel_values"], g["input_ids"], g["attention_mask"]), what: "itm");
    }

    [Fact]
    public void ImageTextContrastiveMatchesReference()
    {
        using var g = new GoldenCase("blip2-itm");
        using var model = GoldenItm.Load(g.ModelDirectory);
        var itc = model.ImageTextContrastive(g["pixel_values"], g["input_ids"], g["attention_mask"]);
        TensorAssert.Close(g["itc.logits_per_image"], itc.LogitsPerImage, what: "logits_per_image");
        TensorAssert.Close(g["itc.logits_per_text"], itc.LogitsPerText, what: "logits_per_text");
        TensorAssert.Close(g["itc.image_embeds"], itc.ImageEmbeds, what: "image_embeds");
        TensorAssert.Close(g["itc.text_embeds"], itc.TextEmbeds, what: "text_embeds");
    }

    [Fact]
    public void ScoringTextsAgainstOneImageRunsTheVisionTowerOnceWithTheSameScores()
    {
        using var g = new GoldenCase("blip2-itm");
        using var model = GoldenItm.Load(g.ModelDirectory);
        var image = g["pixel_values"].narrow(0, 0, 1);
        var ids = g["input_ids"];
        var texts = ids.shape[0];
        var (itm, similarity) = model.ScoreTexts(image, ids, g["attention_mask"]);
        TensorAssert.Close(model.ImageTextMatching(image.expand(texts, -1, -1, -1), ids, g["attention_mask"]), itm, what: "itm");
        TensorAssert.Close(model.ImageTextContrastive(image, ids, g["attention_mask"]).LogitsPerImage.squeeze(0), similarity, what: "itc");
        Assert.Throws<Models.InvalidModelInputException>(() => model.ScoreTexts(g["pixel_values"], ids));
    }

    [Fact]
    public void ProjectionModelsMatchReference()
    {
        using var g = new GoldenCase("blip2-itm");
        using var projections = new GoldenCase("blip2-itm", "expected_projection.safetensors");
        using var model = GoldenItm.Load(g.ModelDirectory);
        TensorAssert.Close(projections["text_with_projection.text_embeds"], model.GetTextEmbeds(g["input_ids"], g["attention_mask"]), what: "text_embeds");
        TensorAssert.Close(projections["vision_with_projection.image_embeds"], model.GetImageEmbeds(g["pixel_values"]), what: "image_embeds");
    }
}
