using Blip2Compiler.Generator.Declaration;
using Blip2Compiler.Generator.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace Blip2Compiler.Generator.Tests;

/// <summary>Configuration declared with [VisionConfig], [QFormerConfig], [OptTextConfig]/[T5TextConfig] instead of a config.json.</summary>
public class AttributeConfigTests
{
    public const string Blip2Opt27bDeclaredWithAttributes = """
        using Blip2Compiler;

        namespace App.Models;

        [Blip2Model(NumQueryTokens = 32, ImageTokenIndex = 50265, Architecture = "Blip2ForConditionalGeneration")]
        [VisionConfig(HiddenSize = 1408, NumHiddenLayers = 39, NumAttentionHeads = 16, IntermediateSize = 6144,
                      ImageSize = 224, PatchSize = 14, LayerNormEps = 1e-6, QkvBias = true, HiddenAct = "gelu")]
        [QFormerConfig(HiddenSize = 768, NumHiddenLayers = 12, NumAttentionHeads = 12, IntermediateSize = 3072,
                       CrossAttentionFrequency = 2, EncoderHiddenSize = 1408, UseQFormerTextInput = false)]
        [OptTextConfig(HiddenSize = 2560, NumHiddenLayers = 32, NumAttentionHeads = 32, FfnDim = 10240,
                       VocabSize = 50304, WordEmbedProjDim = 2560, EosTokenId = 50118, RemoveFinalLayerNorm = false)]
        internal partial class Blip2Opt { }
        """;

    [Fact]
    public void Attribute_values_become_hf_keys_located_on_their_argument()
    {
        var driver = GeneratorHarness.CreateDriver(Array.Empty<AdditionalText>(), trackSteps: true)
            .RunGenerators(GeneratorHarness.CreateCompilation(("Models.cs", Blip2Opt27bDeclaredWithAttributes)));
        var result = driver.GetRunResult().Results.Single();
        Assert.Empty(result.Diagnostics);
        var resolved = (ResolvedModel)result.TrackedSteps[TrackingNames.ResolvedModels].Single().Outputs.Single().Value;
        var model = resolved.Model!;

        Assert.Equal(("App.Models", "Blip2Opt", "internal"), (model.Namespace, model.ClassName, model.Accessibility));
        var doc = model.Config;
        Assert.Equal(GeneratorHarness.ProjectDir + "Models.cs", doc.SourcePath);
        Assert.Equal(new[] { "Blip2ForConditionalGeneration" }, doc.Find("architectures")!.Items);
        Assert.Equal("32", doc.Find("num_query_tokens")!.Value);
        Assert.Equal("1408", doc.Find("vision_config.hidden_size")!.Value);
        Assert.Equal(ConfigKind.Number, doc.Find("vision_config.layer_norm_eps")!.Kind);
        Assert.Equal(1e-6, double.Parse(doc.Find("vision_config.layer_norm_eps")!.Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("true", doc.Find("vision_config.qkv_bias")!.Value);
        Assert.Equal("false", doc.Find("qformer_config.use_qformer_text_input")!.Value);
        Assert.Equal("opt", doc.Find("text_config.model_type")!.Value);
        Assert.Equal("10240", doc.Find("text_config.ffn_dim")!.Value);
        Assert.Equal("false", doc.Find("text_config._remove_final_layer_norm")!.Value);
        Assert.Null(doc.Find("text_config.bos_token_id")); // not set: HF's default applies

        var ffn = doc.Find("text_config.ffn_dim")!.Location!;
        Assert.Equal(GeneratorHarness.ProjectDir + "Models.cs", ffn.FilePath);
        Assert.Equal(10, ffn.LineSpan.Start.Line + 1);
        Assert.Equal("FfnDim = 10240", Blip2Opt27bDeclaredWithAttributes.Replace("\r\n", "\n").Substring(ffn.Span.Start, ffn.Span.Length));
        Assert.Empty(ConfigTypeChecker.Check(doc));
    }

    [Fact]
    public void T5_text_config_sets_model_type_t5()
    {
        var result = GeneratorHarness.Run("""
            [Blip2Compiler.Blip2Model]
            [Blip2Compiler.T5TextConfig(DModel = 2048, DKv = 64, DFf = 5120, NumHeads = 32, FeedForwardProj = "gated-gelu")]
            public partial class FlanT5 { }
            """);
        Assert.Empty(result.Diagnostics);
        string Source(string file) => result.GeneratedSources.Single(s => s.HintName == "FlanT5." + file + ".g.cs").SourceText.ToString();
        Assert.Contains("Blip2T5ForConditionalGeneration", Source("Model"));
        Assert.Contains("TextModelType = \"t5\"", Source("Model"));
        Assert.Contains("TextHeadDim = 64", Source("Model"));
        // d_model 2048 → inner 32 heads × 64 = 2048; d_ff 5120 in the gated feed-forward (wi_0 + wi_1 fused).
        Assert.Contains("linear 2048 → 10240, no bias (fused: wi_0 + wi_1)", Source("T5FeedForward"));
    }

    /// <summary>Every property of every config attribute names a key the generator knows (and type-checks).</summary>
    [Fact]
    public void Every_attribute_property_maps_to_a_known_hf_key()
    {
        var compilation = GeneratorHarness.CreateCompilation();
        foreach (var (metadataName, section) in AttributeConfigReader.Sections)
        {
            var type = compilation.GetTypeByMetadataName(metadataName);
            Assert.NotNull(type);
            var properties = type!.GetMembers().OfType<IPropertySymbol>().Where(p => p.SetMethod is not null).ToList();
            Assert.NotEmpty(properties);
            foreach (var property in properties)
            {
                var key = AttributeConfigReader.KeyOf(section, property.Name);
                Assert.True(KnownConfigKeys.Types.ContainsKey(key), $"{type.Name}.{property.Name} maps to unknown key '{key}'");
                var expected = KnownConfigKeys.Types[key].Type;
                var fits = property.Type.SpecialType switch
                {
                    SpecialType.System_Int32 => expected is ConfigValueType.Integer or ConfigValueType.IntegerOrIntegerArray,
                    SpecialType.System_Double => expected is ConfigValueType.Float,
                    SpecialType.System_Boolean => expected is ConfigValueType.Bool,
                    SpecialType.System_String => expected is ConfigValueType.String or ConfigValueType.StringArray,
                    _ => false,
                };
                Assert.True(fits, $"{type.Name}.{property.Name} is {property.Type} but '{key}' is {expected}");
            }
        }
    }

    [Theory]
    [InlineData("HiddenSize", "hidden_size")]
    [InlineData("NumHiddenLayers", "num_hidden_layers")]
    [InlineData("DModel", "d_model")]
    [InlineData("DKv", "d_kv")]
    [InlineData("QkvBias", "qkv_bias")]
    [InlineData("LayerNormEps", "layer_norm_eps")]
    public void Snake_case(string property, string key) => Assert.Equal(key, AttributeConfigReader.ToSnakeCase(property));
}
