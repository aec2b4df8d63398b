using static Blip2Compiler.Generator.Tests.Infrastructure.GeneratorHarness;

namespace Blip2Compiler.Tests.Graphs;

/// <summary>
/// A project's own *.graph AdditionalFiles join the embedded graphs: a new root compiles from graphs alone (the
/// runtime tests' GraphOnlyRootTests run one against the features fixture).
/// </summary>
public class UserGraphTests
{
    private const string Declaration = """
        [Blip2Compiler.Blip2Model("blip2/config.json")]
        public partial class VisionOnly { }
        """;

    private const string Config = """
        { "architectures": ["TinyVisionForTest"], "vision_config": { "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 64, "image_size": 32, "patch_size": 4 } }
        """;

    private const string Graph = """
        # A vision tower alone, as a root: no C# anywhere knows it.
        root TinyVisionForTest(cfg: model) : Blip2Compiler.Models.Blip2ModelBase
          select when cfg.architectures in ["TinyVisionForTest"]
          info ImageSize = vision.image_size
          module vision_model VisionTransformer
          forward VisionForward(pixel_values, bool interpolate) -> last_hidden_state, pooler_output
            return vision_model(pixel_values, interpolate)
        """;

    [Fact]
    public void A_root_in_a_project_graph_compiles_with_the_embedded_blocks()
    {
        var result = Run(Declaration, File("blip2/config.json", Config), File("graphs/vision_only.graph", Graph));
        Assert.Empty(result.Diagnostics);
        var model = result.GeneratedSources.Single(s => s.HintName == "VisionOnly.Model.g.cs").SourceText.ToString();
        Assert.Contains("public sealed partial class VisionOnly : Blip2Compiler.Models.Blip2ModelBase", model);
        Assert.Contains("ImageSize = 32,", model);
        Assert.DoesNotContain("TextLayers", model);
        Assert.Contains(result.GeneratedSources, s => s.HintName == "VisionOnly.VisionLayer.g.cs");
        var keyMap = result.GeneratedSources.Single(s => s.HintName == "VisionOnly.KeyMap.g.cs").SourceText.ToString();
        Assert.Contains("\"vision_model.encoder.layers.1.mlp.fc2.weight\"", keyMap);
        Assert.DoesNotContain("qformer", keyMap);
    }

    [Fact]
    public void Without_the_project_graph_the_architecture_is_unsupported()
    {
        var d = Assert.Single(Run(Declaration, File("blip2/config.json", Config)).Diagnostics);
        Assert.Equal("BLIP2014", d.Id);
    }

    [Fact]
    public void A_broken_project_graph_is_reported_at_its_line()
    {
        var d = Assert.Single(Run(Declaration, File("blip2/config.json", Config), File("graphs/broken.graph", "root R(cfg: model)\n  linear a 3 ->\n")).Diagnostics);
        Assert.Equal("BLIP2020", d.Id);
        Assert.Contains("broken.graph:2", d.GetMessage());
    }
}
