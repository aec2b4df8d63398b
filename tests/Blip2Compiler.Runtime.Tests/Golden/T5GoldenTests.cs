namespace Blip2Compiler.Tests.Golden;

[Trait("Category", "Golden")]
public class T5GoldenTests
{
    [Fact]
    public void ForwardMatchesReference()
    {
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        var output = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], g["decoder_input_ids"]);
        TensorAssert.Close(g["vision.last_hidden_state"], output.Vision.LastHiddenState, what: "vision");
        TensorAssert.Close(g["vision.last_hidden_state.pooler_output"], output.Vision.PoolerOutput, what: "pooler");
        TensorAssert.Close(g["qformer.last_hidden_state"], output.QFormerLastHiddenState, what: "qformer");
        TensorAssert.Close(g["language_projection"], output.LanguageModelInputs, what: "projection");
        TensorAssert.Close(g["logits"], output.Logits, what: "logits");
    }

    [Fact]
    public void InterpolatedPositionsMatchReference()
    {
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        var first = (TorchSharp.torch.Tensor t) => t.slice(0, 0, 1, 1);
        var output = model.Forward(g["interp.pixel_values"], first(g["input_ids"]), first(g["attention_mask"]), first(g["decoder_input_ids"]), interpolatePosEncoding: true);
        TensorAssert.Close(g["interp.vision.last_hidden_state"], output.Vision.LastHiddenState, what: "interp vision");
        TensorAssert.Close(g["interp.logits"], output.Logits, what: "interp logits");
    }
}
