using TorchSharp;

namespace Blip2Compiler.Tests.Golden;

[Trait("Category", "Golden")]
public class OptGoldenTests
{
    [Fact]
    public void ForwardMatchesReference()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var output = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]);
        TensorAssert.Close(g["vision.last_hidden_state"], output.Vision.LastHiddenState, what: "vision last_hidden_state");
        TensorAssert.Close(g["vision.last_hidden_state.pooler_output"], output.Vision.PoolerOutput, what: "vision pooler_output");
        TensorAssert.Close(g["qformer.last_hidden_state"], output.QFormerLastHiddenState, what: "qformer last_hidden_state");
        TensorAssert.Close(g["qformer.last_hidden_state.pooler_output"], output.QFormerLastHiddenState.select(1, 0), what: "qformer pooler_output");
        TensorAssert.Close(g["language_projection"], output.LanguageModelInputs, what: "language_projection");
        TensorAssert.Close(g["logits"], output.Logits, what: "logits");
    }

    [Fact]
    public void InterpolatedPositionsMatchReference()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var first = (TorchSharp.torch.Tensor t) => t.slice(0, 0, 1, 1);
        var output = model.Forward(g["interp.pixel_values"], first(g["input_ids"]), first(g["attention_mask"]), interpolatePosEncoding: true);
        TensorAssert.Close(g["interp.vision.last_hidden_state"], output.Vision.LastHiddenState, what: "interp vision");
        TensorAssert.Close(g["interp.logits"], output.Logits, what: "interp logits");
    }

    [Fact]
    public void LossIsCrossEntropyOfShiftedLogits()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var ids = g["input_ids"];
        var labels = ids.masked_fill(g["attention_mask"].eq(0), -100);
        var output = model.Forward(g["pixel_values"], ids, g["attention_mask"], labels: labels);
        // From the reference's own logits: mean CE of position t predicting label t+1.
        var logits = g["logits"];
        var expected = torch.nn.functional.cross_entropy(logits.slice(1, 0, logits.shape[1] - 1, 1).reshape(-1, logits.shape[2]), labels.slice(1, 1, labels.shape[1], 1).reshape(-1), ignore_index: -100);
        Assert.NotNull(output.Loss);
        TensorAssert.Close(expected, output.Loss!, what: "loss");
    }

    [Fact]
    public void HiddenStatesAndAttentionsArePerLayer()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var output = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], outputHiddenStates: true, outputAttentions: true);
        var layers = GoldenOpt.Info.TextLayers;
        Assert.Equal(layers + 1, output.HiddenStates.Count);
        // The last hidden state through the tied head gives the reference's logits.
        var logits = torch.nn.functional.linear(output.HiddenStates[^1], model.LanguageModel.EmbedTokens.Weight);
        TensorAssert.Close(g["logits"], logits, what: "logits from last hidden state");
        Assert.Equal(layers, output.Attentions.Count);
        foreach (var a in output.Attentions)
        {
            Assert.Equal(new long[] { 2, GoldenOpt.Info.TextHeads, 12, 12 }, a.shape);
            // Rows of real tokens are distributions that never look ahead.
            var lastRow = a.select(2, -1).sum(-1);
            TensorAssert.Close(torch.ones_like(lastRow), lastRow, 1e-5, "attention row sums");
            Assert.Equal(0f, a.select(2, 5).slice(-1, 6, 12, 1).abs().max().item<float>());
        }
    }

    [Fact]
    public void ImageTokensAndLegacyPrefixGiveTheSameLogits()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        // Row 0 is unpadded: image tokens + BOS + prompt. The legacy layout prepends the queries to BOS + prompt.
        var ids = g["input_ids"].slice(0, 0, 1, 1);
        var queries = GoldenOpt.Info.NumQueryTokens;
        var withTokens = model.Forward(g["pixel_values"].slice(0, 0, 1, 1), ids, useImageTokens: true);
        var legacy = model.Forward(g["pixel_values"].slice(0, 0, 1, 1), ids.slice(1, queries, ids.shape[1], 1), useImageTokens: false);
        TensorAssert.Close(withTokens.Logits, legacy.Logits, 1e-5, "image-token vs legacy logits");
    }
}
