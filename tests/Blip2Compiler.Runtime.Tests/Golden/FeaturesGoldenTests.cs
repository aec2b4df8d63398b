namespace Blip2Compiler.Tests.Golden;

[Trait("Category", "Golden")]
public class FeaturesGoldenTests
{
    [Fact]
    public void FeaturesMatchReference()
    {
        using var g = new GoldenCase("blip2-features");
        using var model = GoldenFeatures.Load(g.ModelDirectory);
        var image = model.GetImageFeatures(g["pixel_values"]);
        TensorAssert.Close(g["get_image_features.last_hidden_state"], image.LastHiddenState, what: "image last_hidden_state");
        TensorAssert.Close(g["get_image_features.pooler_output"], image.PoolerOutput, what: "image pooler_output");
        TensorAssert.Close(g["get_qformer_features"], model.GetQFormerFeatures(g["pixel_values"]), what: "qformer features");
        var mask = g.Has("attention_mask") ? g["attention_mask"] : null;
        TensorAssert.Close(g["get_text_features.last_hidden_state"], model.GetTextFeatures(g["input_ids"], mask), what: "text features");
    }
}
