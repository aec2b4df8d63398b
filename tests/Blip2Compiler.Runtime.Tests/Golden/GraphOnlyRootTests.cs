using Blip2Compiler;

namespace Blip2Compiler.Tests.Golden;

// Compiled from TestGraphs/qformer_features.graph's root, selected by its own config (the features fixture's, with
// architectures ["Blip2QFormerFeaturesForTest"]).
[Blip2Model("TestGraphs/blip2-qformer-features/config.json")] public partial class QFormerFeaturesFromAGraph;

/// <summary>
/// The proof that the graphs own the model: a root declared in a test-only graph, with no C# in generator/ or
/// runtime/, compiles and runs the features fixture's full BLIP-2 checkpoint to the reference's outputs.
/// </summary>
[Trait("Category", "Golden")]
public class GraphOnlyRootTests
{
    [Fact]
    public void A_root_added_by_a_graph_alone_matches_the_reference()
    {
        using var g = new GoldenCase("blip2-features");
        // The checkpoint folder as the new root's users would have it: the fixture's weights, the root's config.json.
        var folder = Directory.CreateTempSubdirectory("blip2-graph-root-");
        try
        {
            File.Copy(Path.Combine(g.ModelDirectory, "model.safetensors"), Path.Combine(folder.FullName, "model.safetensors"));
            File.Copy(Path.Combine(AppContext.BaseDirectory, "TestGraphs", "blip2-qformer-features", "config.json"), Path.Combine(folder.FullName, "config.json"));
            Assert.Equal("Blip2QFormerFeaturesForTest", QFormerFeaturesFromAGraph.Info.Architecture);
            Assert.Equal(6, QFormerFeaturesFromAGraph.Info.NumQueryTokens);
            Assert.Equal(0, QFormerFeaturesFromAGraph.Info.TextLayers); // no stack calls cache_append: no KV cache

            using var model = QFormerFeaturesFromAGraph.Load(folder.FullName);
            var image = model.GetImageFeatures(g["pixel_values"]);
            TensorAssert.Close(g["get_image_features.last_hidden_state"], image.LastHiddenState, what: "image last_hidden_state");
            TensorAssert.Close(g["get_image_features.pooler_output"], image.PoolerOutput, what: "image pooler_output");
            TensorAssert.Close(g["get_qformer_features"], model.GetQFormerFeatures(g["pixel_values"]), what: "qformer features");
        }
        finally { folder.Delete(recursive: true); }
    }
}
