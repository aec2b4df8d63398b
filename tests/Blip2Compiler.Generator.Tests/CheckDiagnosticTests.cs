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
        Assert.Equal("text_config.hidden_size = 30 is not divisible by text_config.num_attention_heads = 4", d.GetMessage());
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
        var d = Only(Config(top: "\"num_query_tokens\": 6, \"architectures\": [\"InstructBlipForConditionalGeneration\"]"), "BLIP2014");
        AtLine(d, 2);
        Assert.Contains("'InstructBlipForConditionalGeneration'", d.GetMessage());
    }

    [Fact]
    public void BLIP2015_invalid_value()
    {
        var d = Only(Config(top: "\"num_query_tokens\": 0"), "BLIP2015");
        AtLine(d, 2);
        Assert.Equal("invalid value num_query_tokens = 0: must be positive", d.GetMessage());
    }

    [Fact]
    public void BLIP2015_post_norm_opt_is_refused_by_the_opt_graphs_check()
    {
        var d = Only(Config(textConfig: "\"model_type\": \"opt\", \"hidden_size\": 32, \"num_attention_heads\": 4, \"do_layer_norm_before\": false"), "BLIP2015");
        AtLine(d, 3);
        Assert.Equal("invalid value text_config.do_layer_norm_before = false: post-norm OPT (opt-350m) is not supported by the OPT graph", d.GetMessage());
    }

    [Fact]
    public void BLIP2010_an_image_size_that_is_not_a_multiple_of_the_patch_size()
    {
        var d = Only(Config(vision: "\"hidden_size\": 32, \"image_size\": 30, \"patch_size\": 4"), "BLIP2010");
        AtLine(d, 5);
        Assert.Equal("vision_config.image_size = 30 is not divisible by vision_config.patch_size = 4", d.GetMessage());
    }

    [Fact]
    public void BLIP2015_retrieval_without_the_qformers_text_side()
    {
        var d = Only(Config(top: "\"num_query_tokens\": 6, \"architectures\": [\"Blip2ForImageTextRetrieval\"]", qformer: "\"encoder_hidden_size\": 32, \"use_qformer_text_input\": false"), "BLIP2015");
        AtLine(d, 4);
        Assert.Equal("invalid value qformer_config.use_qformer_text_input = false: image-text retrieval needs the Q-Former's text side", d.GetMessage());
    }

    [Fact]
    public void BLIP2011_a_t5_activation_derived_from_feed_forward_proj()
    {
        var d = Only(Config(textConfig: "\"model_type\": \"t5\", \"d_model\": 32, \"num_heads\": 4, \"feed_forward_proj\": \"gated-swishy\""), "BLIP2011");
        Assert.Equal("unknown activation 'swishy' in text_config.dense_act_fn", d.GetMessage());
    }

    [Fact]
    public void Every_failing_check_is_reported_once_even_when_many_layers_share_it()
    {
        var result = Run(Declaration, File("blip2/config.json", Config(qformer: "\"encoder_hidden_size\": 30", vision: "\"hidden_size\": 30, \"num_attention_heads\": 4, \"num_hidden_layers\": 3, \"intermediate_size\": 0")));
        Assert.Equal(new[] { "BLIP2010", "BLIP2015" }, result.Diagnostics.Select(d => d.Id).OrderBy(i => i));
    }

    [Fact]
    public void BLIP2015_a_value_of_the_wrong_type_names_the_value()
    {
        // Attribute-declared and JSON configs are type-checked before the compiler; a document built by hand is not.
        var config = new ConfigDocument("config.json", EquatableArray.Create(ConfigEntry.Scalar("vision_config.hidden_size", ConfigKind.String, "wide", null)));
        var model = new ModelDeclaration("", "M", "public", config, new LocationInfo("m.cs", new TextSpan(0, 1), default));
        var d = Assert.Single(GraphCompiler.Compile(model).Diagnostics).ToDiagnostic();
        Assert.Equal("BLIP2015", d.Id);
        Assert.Equal("invalid value vision_config.hidden_size = wide: expected an integer, found string wide", d.GetMessage());
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
