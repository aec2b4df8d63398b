using Blip2Compiler.Generator.Pipeline;
using Blip2Compiler.Generator.Declaration;
using Blip2Compiler.Generator.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using static Blip2Compiler.Generator.Tests.Infrastructure.GeneratorHarness;

namespace Blip2Compiler.Generator.Tests;

/// <summary>One bad declaration per diagnostic: the id, and where it lands (file, line, column).</summary>
public class DiagnosticTests
{
    private const string TinyConfig = """
        {
          "architectures": ["Blip2ForConditionalGeneration"],
          "num_query_tokens": 6,
          "text_config": { "model_type": "opt", "hidden_size": 32, "num_attention_heads": 4 },
          "qformer_config": { "encoder_hidden_size": 32 },
          "vision_config": { "hidden_size": 32 }
        }
        """;

    private static Diagnostic Single(GeneratorRunResult result, string id)
    {
        Assert.Null(result.Exception);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Empty(result.GeneratedSources);
        return diagnostic;
    }

    private static void AssertAt(Diagnostic diagnostic, string path, int line, int column)
    {
        var span = diagnostic.Location.GetLineSpan();
        Assert.Equal((path, line, column), (span.Path, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1));
    }

    [Fact]
    public void BLIP2001_config_file_not_among_AdditionalFiles()
    {
        var d = Single(Run("""
            namespace App;
            [Blip2Compiler.Blip2Model("models/blip2/config.json")]
            public partial class Blip2Opt { }
            """), "BLIP2001");
        AssertAt(d, ProjectDir + "Models.cs", 2, 27);
        Assert.Contains("<AdditionalFiles Include=\"models/blip2/config.json\" />", d.GetMessage());
        Assert.Contains("App.Blip2Opt", d.GetMessage());
    }

    [Fact]
    public void BLIP2001_a_file_whose_name_only_ends_the_same_does_not_match()
    {
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model("config.json")]
            public partial class Blip2Opt { }
            """, File("models/myconfig.json", TinyConfig)), "BLIP2001");
        AssertAt(d, ProjectDir + "Models.cs", 1, 27);
    }

    [Fact]
    public void BLIP2002_invalid_json_is_reported_in_the_json_file()
    {
        const string json = "{\n  \"num_query_tokens\": 32,\n  \"vision_config\": { \"hidden_size\": 1408 \n}";
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model("blip2/config.json")]
            public partial class Blip2Opt { }
            """, File("blip2/config.json", json)), "BLIP2002");
        AssertAt(d, ProjectDir + "blip2/config.json", 4, 2);
        Assert.Contains("line 4, column 2", d.GetMessage());
        Assert.Contains("expected ',' or '}'", d.GetMessage());
    }

    [Theory]
    [InlineData("public class Blip2Opt { }", "partial")]
    [InlineData("public static partial class Blip2Opt { }", "non-static")]
    [InlineData("public partial class Blip2Opt<T> { }", "non-generic")]
    [InlineData("file partial class Blip2Opt { }", "not 'file'")]
    public void BLIP2003_class_must_be_partial_non_generic_non_static(string declaration, string expected)
    {
        var d = Single(Run("[Blip2Compiler.Blip2Model(\"blip2/config.json\")]\n" + declaration, File("blip2/config.json", TinyConfig)), "BLIP2003");
        Assert.Equal(2, d.Location.GetLineSpan().StartLinePosition.Line + 1);
        Assert.Contains(expected, d.GetMessage());
    }

    [Fact]
    public void BLIP2003_class_must_be_top_level()
    {
        var d = Single(Run("""
            public partial class Outer
            {
                [Blip2Compiler.Blip2Model("blip2/config.json")]
                public partial class Blip2Opt { }
            }
            """, File("blip2/config.json", TinyConfig)), "BLIP2003");
        AssertAt(d, ProjectDir + "Models.cs", 4, 26);
        Assert.Contains("top-level (not nested in 'Outer')", d.GetMessage());
    }

    [Fact]
    public void BLIP2004_path_and_config_attributes_together()
    {
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model("blip2/config.json")]
            [Blip2Compiler.VisionConfig(HiddenSize = 1408)]
            public partial class Blip2Opt { }
            """, File("blip2/config.json", TinyConfig)), "BLIP2004");
        AssertAt(d, ProjectDir + "Models.cs", 1, 2);
        Assert.Contains("given twice", d.GetMessage());
    }

    [Fact]
    public void BLIP2004_path_and_top_level_values_together()
    {
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model("blip2/config.json", NumQueryTokens = 32)]
            public partial class Blip2Opt { }
            """, File("blip2/config.json", TinyConfig)), "BLIP2004");
        Assert.Contains("values set on [Blip2Model]", d.GetMessage());
    }

    [Fact]
    public void BLIP2004_neither_path_nor_config_attributes()
    {
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model]
            public partial class Blip2Opt { }
            """), "BLIP2004");
        AssertAt(d, ProjectDir + "Models.cs", 1, 2);
        Assert.Contains("no configuration", d.GetMessage());
    }

    [Fact]
    public void BLIP2004_two_language_models()
    {
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model]
            [Blip2Compiler.OptTextConfig(HiddenSize = 2560)]
            [Blip2Compiler.T5TextConfig(DModel = 2048)]
            public partial class Blip2Opt { }
            """), "BLIP2004");
        Assert.Contains("[OptTextConfig] or [T5TextConfig], not both", d.GetMessage());
    }

    [Fact]
    public void BLIP2005_ambiguous_config_path()
    {
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model("config.json")]
            public partial class Blip2Opt { }
            """, File("a/config.json", TinyConfig), File("b/config.json", TinyConfig)), "BLIP2005");
        AssertAt(d, ProjectDir + "Models.cs", 1, 27);
        Assert.Contains("'/project/a/config.json', '/project/b/config.json'", d.GetMessage());
    }

    [Fact]
    public void BLIP2005_is_not_raised_when_the_path_relative_to_the_source_file_decides()
    {
        var result = Run("""
            [Blip2Compiler.Blip2Model("config.json")]
            public partial class Blip2Opt { }
            """, File("config.json", TinyConfig), File("b/config.json", TinyConfig));
        Assert.Empty(result.Diagnostics);
        Assert.Contains(result.GeneratedSources, s => s.HintName == "Blip2Opt.Model.g.cs");
    }

    [Fact]
    public void BLIP2006_wrong_json_type_for_a_known_key_lands_on_the_value()
    {
        const string json = """
            {
              "num_query_tokens": 32,
              "text_config": {
                "hidden_size": "2560",
                "model_type": "opt"
              }
            }
            """;
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model("blip2/config.json")]
            public partial class Blip2Opt { }
            """, File("blip2/config.json", json)), "BLIP2006");
        AssertAt(d, ProjectDir + "blip2/config.json", 4, 20);
        Assert.Equal("'text_config.hidden_size' must be an integer, but it is the string \"2560\"", d.GetMessage());
    }

    [Theory]
    [InlineData("\"num_query_tokens\": 32.5", "must be an integer")]
    [InlineData("\"vision_config\": {\"qkv_bias\": \"true\"}", "must be true or false")]
    [InlineData("\"vision_config\": {\"layer_norm_eps\": \"1e-6\"}", "must be a number")]
    [InlineData("\"text_config\": {\"model_type\": 5}", "must be a string")]
    [InlineData("\"vision_config\": {\"hidden_size\": null}", "must be an integer, but it is null")]
    [InlineData("\"text_config\": {\"eos_token_id\": [1, \"x\"]}", "an integer or an array of integers or null")]
    public void BLIP2006_variants(string member, string expected)
    {
        var d = Single(Run("""
            [Blip2Compiler.Blip2Model("c/config.json")]
            public partial class M { }
            """, File("c/config.json", "{" + member + "}")), "BLIP2006");
        Assert.Contains(expected, d.GetMessage());
    }

    [Theory]
    [InlineData("\"text_config\": {\"eos_token_id\": [1, 2]}")]
    [InlineData("\"text_config\": {\"eos_token_id\": null}")]
    [InlineData("\"image_token_index\": null")]
    [InlineData("\"vision_config\": {\"layer_norm_eps\": 1}")]
    [InlineData("\"some_unknown_key\": {\"x\": \"anything\"}")]
    public void BLIP2006_is_not_raised_for_values_hf_accepts(string member)
    {
        var result = Run("""
            [Blip2Compiler.Blip2Model("c/config.json")]
            public partial class M { }
            """, File("c/config.json", "{" + member + "}"));
        Assert.Empty(result.Diagnostics);
    }

    [Fact]
    public void BLIP2099_an_exception_in_the_graph_compiler_becomes_a_diagnostic()
    {
        var location = new LocationInfo("/project/Models.cs", new Microsoft.CodeAnalysis.Text.TextSpan(1, 5), default);
        var model = new ModelDeclaration("App", "Blip2Opt", "public", new ConfigDocument("/c.json", EquatableArray<ConfigEntry>.Empty), location);
        var resolved = new ResolvedModel("App.Blip2Opt", model, EquatableArray<DiagnosticInfo>.Empty);

        var compiled = CompileStep.Compile(resolved, _ => throw new InvalidOperationException("boom"), CancellationToken.None);

        Assert.Empty(compiled.Files);
        var d = Assert.Single(compiled.Diagnostics).ToDiagnostic();
        Assert.Equal("BLIP2099", d.Id);
        Assert.Equal("internal generator error while generating 'App.Blip2Opt': InvalidOperationException: boom (please report this)", d.GetMessage());
        Assert.Equal(new Microsoft.CodeAnalysis.Text.TextSpan(1, 5), d.Location.SourceSpan);
    }

    [Fact]
    public void Descriptors_are_unique_errors_in_the_Blip2Compiler_category()
    {
        var all = DiagnosticDescriptors.All;
        Assert.Equal(all.Count, all.Select(d => d.Id).Distinct().Count());
        Assert.All(all, d =>
        {
            Assert.Equal("Blip2Compiler", d.Category);
            Assert.Equal(DiagnosticSeverity.Error, d.DefaultSeverity);
            Assert.Same(d, DiagnosticDescriptors.Get(d.Id));
        });
        Assert.Equal(
            new[] { "BLIP2001", "BLIP2002", "BLIP2003", "BLIP2004", "BLIP2005", "BLIP2006", "BLIP2010", "BLIP2011", "BLIP2012", "BLIP2013", "BLIP2014", "BLIP2015", "BLIP2020", "BLIP2099" },
            all.Select(d => d.Id).OrderBy(id => id));
    }
}
