using Blip2Compiler.Generator;
using Blip2Compiler.Generator.Graphs;
using Blip2Compiler.Generator.Graphs.Parse;
using Blip2Compiler.Generator.Graphs.Select;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Tests.Graphs;

/// <summary>Stage 2, Select: models.graph's `select when` lines pick the root, as transformers' class names do.</summary>
public class SelectStageTests
{
    private static readonly LocationInfo Attribute = new("Model.cs", new TextSpan(0, 1), default);

    private static ConfigDocument Config(params (string Path, ConfigKind Kind, string Value)[] entries) =>
        new("config.json", entries.Select(e => e.Kind == ConfigKind.Array
            ? new ConfigEntry(e.Path, ConfigKind.Array, e.Value, EquatableArray.Create(e.Value.Length == 0 ? Array.Empty<string>() : e.Value.Split(',')), null)
            : ConfigEntry.Scalar(e.Path, e.Kind, e.Value, null)).ToEquatableArray());

    private static (string? Root, List<DiagnosticInfo> Diagnostics) Select(ConfigDocument config, IReadOnlyList<Blip2Compiler.Generator.Graphs.Syntax.GraphFile>? graphs = null)
    {
        var diagnostics = new List<DiagnosticInfo>();
        var root = RootSelector.Select(graphs ?? GraphLibrary.Load(), config, Attribute, diagnostics);
        return (root?.Name, diagnostics);
    }

    [Theory]
    [InlineData("Blip2ForConditionalGeneration", "opt", "Blip2OptForConditionalGeneration")]
    [InlineData("Blip2Model", "t5", "Blip2T5ForConditionalGeneration")]
    [InlineData("Blip2ForImageTextRetrieval", "opt", "Blip2ForImageTextRetrieval")]
    [InlineData("Blip2VisionModelWithProjection", "opt", "Blip2ForImageTextRetrieval")]
    [InlineData("Blip2VisionModel", "opt", "Blip2VisionModel")]
    [InlineData("Blip2QFormerModel", "t5", "Blip2QFormerModel")]
    public void ArchitecturesAndTheTextModelPickTheRoot(string architecture, string textType, string root) =>
        Assert.Equal(root, Select(Config(("architectures", ConfigKind.Array, architecture), ("text_config.model_type", ConfigKind.String, textType))).Root);

    [Fact]
    public void WithoutArchitecturesAQFormerTextSideMeansRetrievalAndNoTextConfigMeansOpt()
    {
        Assert.Equal("Blip2ForImageTextRetrieval", Select(Config(("qformer_config.use_qformer_text_input", ConfigKind.Bool, "true"))).Root);
        Assert.Equal("Blip2OptForConditionalGeneration", Select(Config()).Root);
        Assert.Equal("Blip2OptForConditionalGeneration", Select(Config(("architectures", ConfigKind.Array, ""))).Root);
    }

    [Fact]
    public void AnUnservedArchitectureNamesWhatTheRootsServe()
    {
        var (root, diagnostics) = Select(Config(("architectures", ConfigKind.Array, "InstructBlipForConditionalGeneration")));
        Assert.Null(root);
        var d = Assert.Single(diagnostics);
        Assert.Equal(DiagnosticDescriptors.UnsupportedArchitecture.Id, d.Id);
        Assert.Equal("unsupported architecture 'InstructBlipForConditionalGeneration' (the graphs' roots serve 'Blip2ForConditionalGeneration', 'Blip2Model', "
            + "'Blip2ForImageTextRetrieval', 'Blip2TextModelWithProjection', 'Blip2VisionModelWithProjection', 'Blip2VisionModel' or 'Blip2QFormerModel')", d.ToDiagnostic().GetMessage());
    }

    [Fact]
    public void A_towers_own_flat_config_selects_its_root_from_the_top_level()
    {
        // Blip2VisionConfig.save_pretrained: the keys at the top level, with the tower's model_type there.
        var flat = Config(("architectures", ConfigKind.Array, "Blip2VisionModel"), ("model_type", ConfigKind.String, "blip_2_vision_model"));
        Assert.Equal("Blip2VisionModel", Select(flat).Root);
        // Without architectures the model_type says which tower (as AutoModel maps it).
        Assert.Equal("Blip2VisionModel", Select(Config(("model_type", ConfigKind.String, "blip_2_vision_model"))).Root);
        Assert.Equal("Blip2QFormerModel", Select(Config(("model_type", ConfigKind.String, "blip_2_qformer"))).Root);
    }

    [Fact]
    public void AnUnservedTextModelNamesTheTextModelsOfTheRootsThatServeTheArchitecture()
    {
        var (_, diagnostics) = Select(Config(("architectures", ConfigKind.Array, "Blip2ForConditionalGeneration"), ("text_config.model_type", ConfigKind.String, "llama")));
        var d = Assert.Single(diagnostics);
        Assert.Equal(DiagnosticDescriptors.UnsupportedModelKind.Id, d.Id);
        Assert.Equal("unsupported text_config.model_type 'llama' (expected 'opt' or 't5')", d.ToDiagnostic().GetMessage());
    }

    [Fact]
    public void RootsWhoseConditionsOverlapAreAGraphError()
    {
        var graph = GraphParser.Parse("test.graph", """
            config m = ""
              string kind = "a"
            root A(cfg: m)
              select when cfg.kind in ["a", "b"]
            root B(cfg: m)
              select when cfg.kind == "b"
            """);
        Assert.Equal("A", Select(Config(), new[] { graph }).Root);
        var (root, diagnostics) = Select(Config(("kind", ConfigKind.String, "b")), new[] { graph });
        Assert.Null(root);
        Assert.Equal(DiagnosticDescriptors.GraphError.Id, Assert.Single(diagnostics).Id);
        Assert.Contains("more than one root (A, B)", diagnostics[0].ToDiagnostic().GetMessage());
    }

    [Fact]
    public void ARootWithoutASelectLineDoesNotParse()
    {
        var e = Assert.Throws<GraphException>(() => GraphParser.Parse("test.graph", "config m = \"\"\n  int x = 1\nroot A(cfg: m)\n  param p [1]\n"));
        Assert.Contains("select when", e.Message);
    }
}
