using static Blip2Compiler.Generator.Tests.Infrastructure.GeneratorHarness;

namespace Blip2Compiler.Tests.Graphs;

/// <summary>
/// The Blip2VisionModel and Blip2QFormerModel roots (models.graph): a tower's own flat config.json read at the top
/// level (config.graph's `or flat`), with keys without the prefix; or a full BLIP-2 config with the class named beside
/// it (Architecture), with the prefixed keys and the rest of the checkpoint ignored. The runtime tests run both
/// against the features fixture.
/// </summary>
public class TowerRootTests
{
    private const string FlatVision = """
        { "architectures": ["Blip2VisionModel"], "model_type": "blip_2_vision_model", "hidden_size": 32, "num_attention_heads": 4,
          "num_hidden_layers": 2, "intermediate_size": 64, "image_size": 32, "patch_size": 4 }
        """;

    private const string FlatQFormer = """
        { "architectures": ["Blip2QFormerModel"], "model_type": "blip_2_qformer", "hidden_size": 32, "num_attention_heads": 4,
          "num_hidden_layers": 2, "intermediate_size": 64, "encoder_hidden_size": 48 }
        """;

    private const string Full = """
        { "architectures": ["Blip2Model"], "model_type": "blip-2", "num_query_tokens": 6,
          "vision_config": { "hidden_size": 48, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 64, "image_size": 32, "patch_size": 4 },
          "qformer_config": { "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 64, "encoder_hidden_size": 48 },
          "text_config": { "model_type": "opt", "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "ffn_dim": 64, "vocab_size": 120 } }
        """;

    private static (string Model, string KeyMap) Compile(string declaration, string config)
    {
        var result = Run(declaration, File("tower/config.json", config));
        Assert.Empty(result.Diagnostics);
        string Source(string hint) => result.GeneratedSources.Single(s => s.HintName.EndsWith("." + hint + ".g.cs", StringComparison.Ordinal)).SourceText.ToString();
        return (Source("Model"), Source("KeyMap"));
    }

    [Fact]
    public void A_flat_vision_config_compiles_the_vision_tower_with_unprefixed_keys()
    {
        var (model, keyMap) = Compile("""[Blip2Compiler.Blip2Model("tower/config.json")] public partial class Vision { }""", FlatVision);
        Assert.Contains("public sealed partial class Vision : Blip2Compiler.Models.VisionTower", model);
        Assert.Contains("new(\"hidden_size\", 32L)", model);                  // the top level, not vision_config
        Assert.DoesNotContain("vision_config.", model);
        Assert.Contains("\"embeddings.patch_embedding.weight\"", keyMap);
        Assert.Contains("\"encoder.layers.1.mlp.fc2.weight\"", keyMap);
        Assert.DoesNotContain(", \"vision_model.", keyMap);                    // checkpoint keys (the parameter names keep it)
        Assert.Contains("new string[] {  }", keyMap);                         // nothing ignored: every key is the tower's
    }

    [Fact]
    public void A_flat_qformer_config_compiles_the_qformer_with_unprefixed_keys()
    {
        var (model, keyMap) = Compile("""[Blip2Compiler.Blip2Model("tower/config.json")] public partial class QFormer { }""", FlatQFormer);
        Assert.Contains(": Blip2Compiler.Models.QFormerTower", model);
        Assert.Contains("QFormerHiddenSize = 32,", model);
        Assert.Contains("QFormerEncoderHiddenSize = 48,", model);
        Assert.Contains("\"encoder.layer.0.crossattention.attention.key.weight\"", keyMap);
        Assert.Contains("\"layernorm.weight\"", keyMap);
        Assert.DoesNotContain(", \"qformer.", keyMap);
    }

    [Theory]
    [InlineData("Blip2VisionModel", "VisionTower", "\"vision_model.encoder.layers.1.mlp.fc2.weight\"", "new(\"vision_config.hidden_size\", 48L)")]
    [InlineData("Blip2QFormerModel", "QFormerTower", "\"qformer.encoder.layer.0.crossattention.attention.key.weight\"", "new(\"qformer_config.hidden_size\", 32L)")]
    public void A_tower_named_beside_a_full_config_takes_its_section_and_prefixed_keys(string architecture, string baseClass, string key, string field)
    {
        var (model, keyMap) = Compile("[Blip2Compiler.Blip2Model(\"tower/config.json\", Architecture = \"" + architecture + "\")] public partial class Tower { }", Full);
        Assert.Contains(": Blip2Compiler.Models." + baseClass, model);
        Assert.Contains("Architecture = \"" + architecture + "\",", model);
        // The model is compared with the checkpoint's own config.json at load: its architectures stay the file's.
        Assert.Contains("ConfigArchitecture = \"Blip2Model\",", model);
        Assert.Contains(field, model);
        Assert.Contains(key, keyMap);
        Assert.Contains("new string[] { \"*\" }", keyMap);                    // the rest of the full checkpoint is not the tower's
        Assert.DoesNotContain("language_model", keyMap);
    }

    [Fact]
    public void Without_the_architecture_the_full_config_compiles_its_own_class()
    {
        var (model, _) = Compile("""[Blip2Compiler.Blip2Model("tower/config.json")] public partial class Whole { }""", Full);
        Assert.Contains(": Blip2Compiler.Models.OptConditionalGeneration", model);
    }

    [Fact]
    public void An_architecture_no_root_serves_beside_a_config_path_is_BLIP2014_at_the_attribute()
    {
        var result = Run("""[Blip2Compiler.Blip2Model("tower/config.json", Architecture = "Blip2TextModel")] public partial class Tower { }""", File("tower/config.json", Full));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("BLIP2014", d.Id);
        Assert.Contains("'Blip2TextModel'", d.GetMessage());
        Assert.EndsWith("Models.cs", d.Location.GetLineSpan().Path);
    }
}
