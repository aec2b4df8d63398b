using Blip2Compiler;
using Blip2Compiler.Checkpoints;
using Blip2Compiler.Models;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Tests.Golden;

// The towers as Hugging Face saves them alone: flat config.json files (Towers/*, the features fixture's sub-configs
// with their own architectures and model_type), keys without the prefix (written by the tests).
[Blip2Model("Towers/blip2-vision-model/config.json")] public partial class FlatVisionTower;
[Blip2Model("Towers/blip2-qformer/config.json")] public partial class FlatQFormerTower;

// The towers taken out of full BLIP-2 checkpoints, as Blip2VisionModel/Blip2QFormerModel.from_pretrained on them.
[Blip2Model("blip2-features/model/config.json", Architecture = "Blip2VisionModel")] public partial class FeaturesVisionTower;
[Blip2Model("blip2-features/model/config.json", Architecture = "Blip2QFormerModel")] public partial class FeaturesQFormerTower;
[Blip2Model("blip2-opt/model/config.json", Architecture = "Blip2QFormerModel")] public partial class OptQFormerTower;

/// <summary>
/// The Blip2VisionModel and Blip2QFormerModel roots (models.graph, no C# of their own) against the reference: the
/// features fixture's get_image_features (vision) and get_qformer_features (the Q-Former over the checkpoint's
/// query_tokens and that vision output), from a flat tower checkpoint and from the full one; the OPT fixture's
/// qformer.last_hidden_state and its pooler_output.
/// </summary>
[Trait("Category", "Golden")]
public class TowerRootTests
{
    [Fact]
    public void The_vision_tower_from_its_own_flat_checkpoint_matches_get_image_features()
    {
        using var g = new GoldenCase("blip2-features");
        Assert.Equal("Blip2VisionModel", FlatVisionTower.Info.Architecture);
        Assert.Contains(FlatVisionTower.Info.Config, v => v.Path == "hidden_size");   // read at the top level
        var folder = FlatTower(g, "vision_model.", "blip2-vision-model");
        try
        {
            using var model = FlatVisionTower.Load(folder);
            var output = model.Forward(g["pixel_values"]);
            TensorAssert.Close(g["get_image_features.last_hidden_state"], output.LastHiddenState, what: "last_hidden_state");
            TensorAssert.Close(g["get_image_features.pooler_output"], output.PoolerOutput, what: "pooler_output");
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void The_vision_tower_out_of_the_full_checkpoint_matches_get_image_features()
    {
        using var g = new GoldenCase("blip2-features");
        Assert.Contains(FeaturesVisionTower.Info.Config, v => v.Path == "vision_config.hidden_size");
        using var model = FeaturesVisionTower.Load(g.ModelDirectory);
        var output = model.Forward(g["pixel_values"], outputHiddenStates: true, outputAttentions: true);
        TensorAssert.Close(g["get_image_features.last_hidden_state"], output.LastHiddenState, what: "last_hidden_state");
        TensorAssert.Close(g["get_image_features.pooler_output"], output.PoolerOutput, what: "pooler_output");
        // Blip2Encoder: each layer's input, then the encoder's output (before post_layernorm): layers + 1.
        Assert.Equal(3, output.HiddenStates.Count);
        Assert.Equal(2, output.Attentions.Count);
        foreach (var a in output.Attentions)
        {
            Assert.Equal(new long[] { 2, 4, 65, 65 }, a.shape);
            TensorAssert.Close(torch.ones(2, 4, 65), a.sum(-1), 1e-5, "attention rows sum to 1");
        }
    }

    [Fact]
    public void The_qformer_from_its_own_flat_checkpoint_matches_get_qformer_features()
    {
        using var g = new GoldenCase("blip2-features");
        Assert.Equal(32, FlatQFormerTower.Info.QFormerHiddenSize);
        Assert.Equal(32, FlatQFormerTower.Info.QFormerEncoderHiddenSize);
        var folder = FlatTower(g, "qformer.", "blip2-qformer");
        try
        {
            using var model = FlatQFormerTower.Load(folder);
            using var queries = QueryTokens(g, batch: 2);
            var output = model.Forward(queries, g["get_image_features.last_hidden_state"]);
            TensorAssert.Close(g["get_qformer_features"], output.LastHiddenState, what: "last_hidden_state");
            TensorAssert.Close(g["get_qformer_features"].select(1, 0), output.PoolerOutput, what: "pooler_output (the first query's)");
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void The_qformer_out_of_full_checkpoints_matches_the_reference()
    {
        using (var g = new GoldenCase("blip2-features"))
        using (var model = FeaturesQFormerTower.Load(g.ModelDirectory))
        using (var queries = QueryTokens(g, batch: 2))
            TensorAssert.Close(g["get_qformer_features"], model.Forward(queries, g["get_image_features.last_hidden_state"]).LastHiddenState, what: "features last_hidden_state");

        using var opt = new GoldenCase("blip2-opt");
        using var optModel = OptQFormerTower.Load(opt.ModelDirectory);
        using var optQueries = QueryTokens(opt, batch: 2);
        var output = optModel.Forward(optQueries, opt["vision.last_hidden_state"]);
        TensorAssert.Close(opt["qformer.last_hidden_state"], output.LastHiddenState, what: "opt last_hidden_state");
        TensorAssert.Close(opt["qformer.last_hidden_state.pooler_output"], output.PoolerOutput, what: "opt pooler_output");
    }

    [Fact]
    public void The_qformer_returns_its_hidden_states_and_attentions_as_Blip2QFormerEncoder()
    {
        using var g = new GoldenCase("blip2-features");
        using var model = FeaturesQFormerTower.Load(g.ModelDirectory);
        using var queries = QueryTokens(g, batch: 2);
        var image = g["get_image_features.last_hidden_state"];
        var output = model.Forward(queries, image, outputHiddenStates: true, outputAttentions: true);
        TensorAssert.Close(g["get_qformer_features"], output.LastHiddenState, what: "last_hidden_state with the outputs asked");

        // hidden_states: the embedding output (layernorm of the queries), then each of the 2 layers' outputs.
        Assert.Equal(3, output.HiddenStates.Count);
        using var checkpoint = SafetensorsFile.Open(Path.Combine(g.ModelDirectory, "model.safetensors"));
        Tensor W(string key) => checkpoint.Load(key, null, torch.CPU);
        var embedded = torch.nn.functional.layer_norm(queries, [32], W("qformer.layernorm.weight"), W("qformer.layernorm.bias"), 1e-12);
        TensorAssert.Close(embedded, output.HiddenStates[0], 1e-5, "hidden_states[0] = layernorm(query_embeds)");
        TensorAssert.Close(output.LastHiddenState, output.HiddenStates[^1], 0, "hidden_states[-1] = last_hidden_state");

        // attentions: each layer's self-attention [batch, heads, queries, queries]; layer 0's is softmax(q kᵀ / √8)
        // of the embedding output through its query/key projections, as Blip2QFormerMultiHeadAttention computes it.
        Assert.Equal(2, output.Attentions.Count);
        foreach (var a in output.Attentions) Assert.Equal(new long[] { 2, 4, 6, 6 }, a.shape);
        Tensor Heads(Tensor x) => x.view(2, 6, 4, 8).permute(0, 2, 1, 3);
        var q = Heads(torch.nn.functional.linear(embedded, W("qformer.encoder.layer.0.attention.attention.query.weight"), W("qformer.encoder.layer.0.attention.attention.query.bias")));
        var k = Heads(torch.nn.functional.linear(embedded, W("qformer.encoder.layer.0.attention.attention.key.weight"), W("qformer.encoder.layer.0.attention.attention.key.bias")));
        var expected = (torch.matmul(q, k.transpose(-1, -2)) / Math.Sqrt(8)).softmax(-1);
        TensorAssert.Close(expected, output.Attentions[0], 1e-5, "layer 0 self-attention probabilities");

        // cross_attentions: only the layers that cross-attend (cross_attention_frequency 2 of 2 layers: layer 0),
        // [batch, heads, queries, image positions], rows summing to 1.
        var cross = Assert.Single(output.CrossAttentions);
        Assert.Equal(new long[] { 2, 4, 6, 65 }, cross.shape);
        TensorAssert.Close(torch.ones(2, 4, 6), cross.sum(-1), 1e-5, "cross-attention rows sum to 1");
    }

    [Fact]
    public void The_full_model_returns_the_qformer_outputs_the_tower_does()
    {
        using var g = new GoldenCase("blip2-features");
        using var full = GoldenFeatures.Load(g.ModelDirectory);
        using var tower = FeaturesQFormerTower.Load(g.ModelDirectory);
        using var queries = QueryTokens(g, batch: 2);
        var fromFull = full.GetQFormerOutputs(g["pixel_values"], outputHiddenStates: true, outputAttentions: true);
        var fromTower = tower.Forward(queries, full.GetImageFeatures(g["pixel_values"]).LastHiddenState, outputHiddenStates: true, outputAttentions: true);
        TensorAssert.Close(g["get_qformer_features"], fromFull.LastHiddenState, what: "get_qformer_features");
        Assert.Equal(fromTower.HiddenStates.Count, fromFull.HiddenStates.Count);
        Assert.Equal(fromTower.Attentions.Count, fromFull.Attentions.Count);
        Assert.Equal(fromTower.CrossAttentions.Count, fromFull.CrossAttentions.Count);
        for (int i = 0; i < fromTower.HiddenStates.Count; i++) TensorAssert.Close(fromTower.HiddenStates[i], fromFull.HiddenStates[i], 1e-5, $"hidden_states[{i}]");
        TensorAssert.Close(fromTower.CrossAttentions[0], fromFull.CrossAttentions[0], 1e-5, "cross_attentions[0]");
        // Without the flags nothing is recorded.
        var plain = full.GetQFormerOutputs(g["pixel_values"]);
        Assert.Empty(plain.HiddenStates);
        Assert.Empty(plain.Attentions);
        Assert.Empty(plain.CrossAttentions);
    }

    [Fact]
    public void The_conditional_generation_forward_returns_the_qformer_outputs_as_qformer_outputs()
    {
        using var opt = new GoldenCase("blip2-opt");
        using var optModel = GoldenOpt.Load(opt.ModelDirectory);
        var plain = optModel.Forward(opt["pixel_values"], opt["input_ids"], opt["attention_mask"]);
        Assert.Empty(plain.QFormer!.HiddenStates);
        var output = optModel.Forward(opt["pixel_values"], opt["input_ids"], opt["attention_mask"], outputHiddenStates: true, outputAttentions: true);
        TensorAssert.Close(opt["qformer.last_hidden_state"], output.QFormer!.LastHiddenState, what: "qformer_outputs.last_hidden_state");
        TensorAssert.Close(opt["qformer.last_hidden_state.pooler_output"], output.QFormer.PoolerOutput, what: "qformer_outputs.pooler_output");
        Assert.Equal((3, 2, 1), (output.QFormer.HiddenStates.Count, output.QFormer.Attentions.Count, output.QFormer.CrossAttentions.Count));
        TensorAssert.Close(opt["qformer.last_hidden_state"], output.QFormer.HiddenStates[^1], what: "qformer hidden_states[-1]");
        // The language model's own per-layer outputs stay apart: 2 OPT layers + the final norm's output, 2 attentions.
        Assert.Equal((3, 2), (output.HiddenStates.Count, output.Attentions.Count));

        using var t5 = new GoldenCase("blip2-flan-t5");
        using var t5Model = GoldenFlanT5.Load(t5.ModelDirectory);
        var t5Output = t5Model.Forward(t5["pixel_values"], t5["input_ids"], t5["attention_mask"], t5["decoder_input_ids"], outputHiddenStates: true, outputAttentions: true);
        TensorAssert.Close(t5["qformer.last_hidden_state"], t5Output.QFormer!.HiddenStates[^1], what: "T5 qformer hidden_states[-1]");
        Assert.Equal((3, 2, 1), (t5Output.QFormer.HiddenStates.Count, t5Output.QFormer.Attentions.Count, t5Output.QFormer.CrossAttentions.Count));
        Assert.Equal(new long[] { 2, 4, 6, 65 }, t5Output.QFormer.CrossAttentions[0].shape);
    }

    [Fact]
    public void Inputs_that_do_not_fit_the_qformer_are_typed_errors()
    {
        using var g = new GoldenCase("blip2-features");
        using var model = FeaturesQFormerTower.Load(g.ModelDirectory);
        using var queries = QueryTokens(g, batch: 2);
        var image = g["get_image_features.last_hidden_state"];
        var e = Assert.Throws<InvalidModelInputException>(() => model.Forward(torch.zeros(2, 6, 16), image));
        Assert.Equal("query_embeds", e.Input);
        Assert.Contains("[batch, queries, 32]", e.Message);
        Assert.Equal("encoder_hidden_states", Assert.Throws<InvalidModelInputException>(() => model.Forward(queries, torch.zeros(2, 65, 8))).Input);
        Assert.Equal("encoder_hidden_states", Assert.Throws<InvalidModelInputException>(() => model.Forward(queries, image.narrow(0, 0, 1))).Input);
        Assert.Equal("query_embeds", Assert.Throws<InvalidModelInputException>(() => model.Forward(torch.zeros(2, 6, 32, torch.ScalarType.Int64), image)).Input);
    }

    /// <summary>The checkpoint's query_tokens [1, queries, hidden] expanded to the batch (as Blip2Model does).</summary>
    private static Tensor QueryTokens(GoldenCase g, long batch)
    {
        using var checkpoint = SafetensorsFile.Open(Path.Combine(g.ModelDirectory, "model.safetensors"));
        using var tokens = checkpoint.Load("query_tokens", null, torch.CPU);
        return tokens.expand(batch, -1, -1).contiguous();
    }

    /// <summary>A tower checkpoint as Hugging Face saves one alone: the full checkpoint's tensors under
    /// <paramref name="prefix"/> without it, and the tower's flat config.json.</summary>
    private static string FlatTower(GoldenCase g, string prefix, string configFolder)
    {
        var folder = Directory.CreateTempSubdirectory("blip2-tower-").FullName;
        using var checkpoint = SafetensorsFile.Open(Path.Combine(g.ModelDirectory, "model.safetensors"));
        var tensors = checkpoint.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(k => k[prefix.Length..], k => checkpoint.Load(k, null, torch.CPU));
        try { SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors); }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Towers", configFolder, "config.json"), Path.Combine(folder, "config.json"));
        return folder;
    }
}
