using Blip2Compiler.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// What Hugging Face's outputs hold beyond the logits, on the fixture checkpoints: the Q-Former's pooled output,
/// T5's encoder and decoder outputs apart (Seq2SeqLMOutput), attentions, and T5 labels without decoder inputs.
/// </summary>
[Trait("Category", "Golden")]
public class OutputsTests
{
    [Fact]
    public void TheQFormersPooledOutputMatchesTheReference()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var output = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]);
        TensorAssert.Close(g["qformer.last_hidden_state.pooler_output"], output.QFormerPoolerOutput!, what: "qformer pooler_output");
        var features = model.GetQFormerOutputs(g["pixel_values"]);
        TensorAssert.Close(g["qformer.last_hidden_state"], features.LastHiddenState, what: "qformer last_hidden_state");
        TensorAssert.Close(g["qformer.last_hidden_state.pooler_output"], features.PoolerOutput, what: "qformer pooler_output");

        using var t5 = new GoldenCase("blip2-flan-t5");
        using var t5Model = GoldenFlanT5.Load(t5.ModelDirectory);
        var t5Output = t5Model.Forward(t5["pixel_values"], t5["input_ids"], t5["attention_mask"], t5["decoder_input_ids"]);
        TensorAssert.Close(t5["qformer.last_hidden_state.pooler_output"], t5Output.QFormerPoolerOutput!, what: "T5 qformer pooler_output");
    }

    [Fact]
    public void T5LabelsWithoutDecoderInputsAreShiftedRightAsTheReferenceDoes()
    {
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        // The fixture's decoder inputs start with decoder_start_token_id 0: labels = those inputs moved left by one
        // (and one more label) shift right back to them, so the logits are the reference's.
        var decoderIds = g["decoder_input_ids"];
        Assert.Equal(0L, decoderIds[0, 0].item<long>());
        var labels = torch.cat([decoderIds.slice(1, 1, decoderIds.shape[1], 1), torch.tensor(new long[] { 5, 7 }).unsqueeze(1)], 1);
        var shifted = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], labels: labels);
        TensorAssert.Close(g["logits"], shifted.Logits, what: "logits from shifted labels");
        var given = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], decoderIds, labels: labels);
        TensorAssert.Close(given.Loss!, shifted.Loss!, what: "loss");
        // The loss is the mean cross-entropy of the labels under the reference's logits.
        var expected = nn.functional.cross_entropy(g["logits"].reshape(-1, g["logits"].shape[2]), labels.reshape(-1));
        TensorAssert.Close(expected, shifted.Loss!, what: "loss against the reference's logits");

        // −100 (ignored) labels become pad (0) in the shifted decoder input, and are left out of the loss.
        var ignored = labels.clone();
        ignored[0, 0] = torch.tensor(-100L);
        var withIgnored = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], labels: ignored);
        var padded = decoderIds.clone();
        padded[0, 1] = torch.tensor(0L);
        var byHand = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], padded, labels: ignored);
        TensorAssert.Close(byHand.Logits, withIgnored.Logits, what: "−100 read as pad");
        TensorAssert.Close(byHand.Loss!, withIgnored.Loss!, what: "−100 ignored in the loss");

        var none = Assert.Throws<InvalidModelInputException>(() => model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]));
        Assert.Equal("decoder_input_ids", none.Input);
        var outside = Assert.Throws<InvalidModelInputException>(() => model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], labels: labels + 1000));
        Assert.Equal("labels", outside.Input);
    }

    [Fact]
    public void T5EncoderAndDecoderOutputsComeApartAsSeq2SeqLMOutput()
    {
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        var output = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], g["decoder_input_ids"], outputHiddenStates: true, outputAttentions: true);
        var lm = output.LanguageModel!;
        const int layers = 2, heads = 4;
        long encoderLength = g["input_ids"].shape[1], decoderLength = g["decoder_input_ids"].shape[1];
        // T5Stack: each block's input, then the final norm's output, which is the stack's last hidden state.
        Assert.Equal(layers + 1, lm.EncoderHiddenStates.Count);
        Assert.Equal(layers + 1, lm.DecoderHiddenStates.Count);
        TensorAssert.Close(lm.EncoderLastHiddenState, lm.EncoderHiddenStates[^1], what: "encoder last");
        TensorAssert.Close(lm.DecoderLastHiddenState, lm.DecoderHiddenStates[^1], what: "decoder last");
        Assert.Equal(new long[] { 2, encoderLength, 32 }, lm.EncoderHiddenStates[0].shape);
        Assert.Equal(new long[] { 2, decoderLength, 32 }, lm.DecoderHiddenStates[0].shape);
        // The decoder's first hidden state is the decoder inputs' embeddings (the shared table).
        TensorAssert.Close(model.Shared.Weight.index_select(0, g["decoder_input_ids"].reshape(-1)).reshape(2, decoderLength, 32), lm.DecoderHiddenStates[0], what: "decoder embeddings");
        // Attention probabilities [batch, heads, queries, keys], one per layer of each kind; every row sums to 1.
        Assert.Equal(layers, lm.EncoderAttentions.Count);
        Assert.Equal(layers, lm.DecoderAttentions.Count);
        Assert.Equal(layers, lm.CrossAttentions.Count);
        Assert.Equal(new long[] { 2, heads, encoderLength, encoderLength }, lm.EncoderAttentions[0].shape);
        Assert.Equal(new long[] { 2, heads, decoderLength, decoderLength }, lm.DecoderAttentions[1].shape);
        Assert.Equal(new long[] { 2, heads, decoderLength, encoderLength }, lm.CrossAttentions[1].shape);
        // Causal self-attention: no weight on later decoder positions.
        Assert.Equal(0f, lm.DecoderAttentions[0].select(2, 0).slice(2, 1, decoderLength, 1).abs().max().item<float>());
        foreach (var a in lm.DecoderAttentions.Concat(lm.CrossAttentions))
            TensorAssert.Close(torch.ones(2, heads, decoderLength), a.sum(-1), what: "rows sum to 1");
        // Left padding: no encoder or cross attention on padded prompt positions.
        var padded = g["attention_mask"].eq(0);
        Assert.True(padded.any().item<bool>(), "the fixture's prompts are left padded");
        var crossOnPadding = lm.CrossAttentions[0].masked_select(padded.unsqueeze(1).unsqueeze(1).expand_as(lm.CrossAttentions[0]));
        Assert.Equal(0f, crossOnPadding.abs().max().item<float>());
        // The logits are unchanged by asking for more, and the decoder's states are the output's own.
        TensorAssert.Close(g["logits"], output.Logits, what: "logits");
        Assert.Same(lm.DecoderHiddenStates, output.HiddenStates);
    }

    [Fact]
    public void TheVisionTowersAttentionsAndHiddenStatesAreItsLayers()
    {
        using var g = new GoldenCase("blip2-features");
        using var model = GoldenFeatures.Load(g.ModelDirectory);
        var image = model.GetImageFeatures(g["pixel_values"], outputHiddenStates: true, outputAttentions: true);
        const int layers = 2, heads = 4, positions = 65;
        Assert.Equal(layers, image.Attentions.Count);
        Assert.Equal(new long[] { 2, heads, positions, positions }, image.Attentions[0].shape);
        TensorAssert.Close(torch.ones(2, heads, positions), image.Attentions[1].sum(-1), what: "rows sum to 1");
        // Blip2Encoder: each layer's input, then the last layer's output (before post_layernorm).
        Assert.Equal(layers + 1, image.HiddenStates.Count);
        TensorAssert.Close(g["get_image_features.last_hidden_state"], image.LastHiddenState, what: "last_hidden_state unchanged");
    }

    [Fact]
    public void T5TextFeaturesAreTheLanguageModelOnTextAlone()
    {
        // Blip2Model.get_text_features of an encoder–decoder: the language model over the ids' embeddings, no queries.
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        var text = g["input_ids"];   // its image tokens are plain tokens here
        var mask = g["attention_mask"];
        var features = model.GetTextFeatures(text, mask, g["decoder_input_ids"], outputHiddenStates: true);
        Assert.Equal(new long[] { 2, g["decoder_input_ids"].shape[1], 120 }, features.Logits.shape);
        Assert.Equal(new long[] { 2, text.shape[1], 32 }, features.LanguageModel.EncoderLastHiddenState.shape);
        // The encoder's first hidden state is the text's embeddings: no query embeddings in front.
        TensorAssert.Close(model.Shared.Weight.index_select(0, text.reshape(-1)).reshape(2, text.shape[1], 32), features.LanguageModel.EncoderHiddenStates[0], what: "text embeddings");
        // Labels alone shift right as in Forward, and the loss is the labels' cross-entropy under these logits.
        var labels = torch.cat([g["decoder_input_ids"].slice(1, 1, 4, 1), torch.tensor(new long[] { 5, 7 }).unsqueeze(1)], 1);
        var withLabels = model.GetTextFeatures(text, mask, labels: labels);
        TensorAssert.Close(features.Logits, withLabels.Logits, what: "shifted labels");
        TensorAssert.Close(nn.functional.cross_entropy(features.Logits.reshape(-1, 120), labels.reshape(-1)), withLabels.Loss!, what: "loss");
    }
}
