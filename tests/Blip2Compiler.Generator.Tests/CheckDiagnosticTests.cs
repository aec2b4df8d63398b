using Blip2Compiler.Generator.Graphs;
using Blip2Compiler.Generator.Graphs.Parse;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using static Blip2Compiler.Generator.Tests.Infrastructure.GeneratorHarness;

namespace Blip2Compiler.Generator.Tests;

/// <summary>The graph compiler's Check/Bind diagnostics (BLIP2010–BLIP2020), each from a bad config, located in the JSON.</summary>
public class CheckDiagnosticTests
{
    private const string Declaration = """
        [Blip2Compiler.Blip2Model("blip2/config.json")]
        public partial class Blip2Opt { }
        """;

    /// <summary>A consistent tiny config with one line replaced by the test.</summary>
    private static string Config(string textConfig = "\"model_type\": \"opt\", \"hidden_size\": 32, \"num_attention_heads\": 4",
        string top = "\"num_query_tokens\": 6", string qformer = "\"encoder_hidden_size\": 32", string vision = "\"hidden_size\": 32") => $$"""
        {
          {{top}},
          "text_config": { {{textConfig}} },
          "qformer_config": { {{qformer}} },
          "vision_config": { {{vision}} }
        }
        """;

    private static Diagnostic Only(string config, string id)
    {
        var result = Run(Declaration, File("blip2/config.json", config));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Empty(result.GeneratedSources);
        return d;
    }

    private static void AtLine(Diagnostic d, int line)
    {
        var span = d.Location.GetLineSpan();
        Assert.Equal((ProjectDir + "blip2/config.json", line), (span.Path, span.StartLinePosition.Line + 1));
    }

    [Fact]
    public void TheBaseConfigCompiles() => Assert.Empty(Run(Declaration, File("blip2/config.json", Config())).Diagnostics);

    [Fact]
    public void BLIP2010_hidden_size_not_divisible_by_heads()
    {
        var d = Only(Config(textConfig: "\"model_type\": \"opt\", \"hidden_size\": 30, \"num_attention_heads\": 4"), "BLIP2010");
        AtLine(d, 3);
        Assert.Contains("hidden size 30 of text_config.hidden_size is not divisible by the number of attention heads 4", d.GetMessage());
    }

    [Fact]
    public void BLIP2011_unknown_activation()
    {
        var d = Only(Config(vision: "\"hidden_size\": 32, \"hidden_act\": \"swishy\""), "BLIP2011");
        AtLine(d, 5);
        Assert.Contains("'swishy'", d.GetMessage());
    }

    [Fact]
    public void BLIP2012_unsupported_text_model_type()
    {
        var d = Only(Config(textConfig: "\"model_type\": \"llama\""), "BLIP2012");
        AtLine(d, 3);
        Assert.Contains("'llama'", d.GetMessage());
    }

    [Fact]
    public void BLIP2013_qformer_does_not_fit_the_vision_tower()
    {
        var d = Only(Config(qformer: "\"encoder_hidden_size\": 64"), "BLIP2013");
        AtLine(d, 4);
        Assert.Contains("encoder_hidden_size 64 differs from vision_config.hidden_size 32", d.GetMessage());
    }

    [Fact]
    public void BLIP2014_unsupported_architecture()
    {
        var d = Only(Config(top: "\"num_query_tokens\": 6, \"architectures\": [\"Blip2QFormerModel\"]"), "BLIP2014");
        AtLine(d, 2);
        Assert.Contains("'Blip2QFormerModel'", d.GetMessage());
    }

    [Fact]
    public void BLIP2015_invalid_value()
    {
        var d = Only(Config(top: "\"num_query_tokens\": 0"), "BLIP2015");
        AtLine(d, 2);
        Assert.Contains("num_query_tokens", d.GetMessage());
        Assert.Contains("must be positive", d.GetMessage());
    }

    [Fact]
    public void BLIP2020_a_broken_graph_is_reported_with_its_line()
    {
        var config = new ConfigDocument("config.json", EquatableArray<ConfigEntry>.Empty);
        var model = new ModelDeclaration("", "M", "public", config, new LocationInfo("m.cs", new TextSpan(0, 1), default));
        var result = GraphCompiler.Compile(model, () => new[] { GraphParser.Parse("broken.graph", "block B(cfg: c)\n  linear a 3 ->\n") });
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("BLIP2020", d.Id);
        Assert.Contains("broken.graph:2", string.Join(" ", d.MessageArgs));
    }
}
