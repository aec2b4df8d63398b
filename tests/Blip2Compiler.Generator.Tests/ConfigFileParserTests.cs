using Blip2Compiler.Generator.Declaration;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Generator.Tests;

public class ConfigFileParserTests
{
    private const string Path = "/p/config.json";

    private static ConfigDocument Parse(string json)
    {
        var parsed = ConfigFileParser.Parse(Path, SourceText.From(json));
        Assert.Null(parsed.Error);
        return parsed.Document!;
    }

    [Fact]
    public void Nested_objects_become_dotted_paths()
    {
        var doc = Parse("""
            {
              "architectures": ["Blip2ForConditionalGeneration"],
              "vision_config": { "hidden_size": 1408, "layer_norm_eps": 1e-06, "qkv_bias": true, "hidden_act": "gelu" },
              "text_config": { "eos_token_id": [1, 2], "word_embed_proj_dim": null, "task": { "x": { "y": 1 } } }
            }
            """);
        Assert.Equal(
            new[]
            {
                "architectures", "vision_config.hidden_size", "vision_config.layer_norm_eps", "vision_config.qkv_bias",
                "vision_config.hidden_act", "text_config.eos_token_id", "text_config.word_embed_proj_dim", "text_config.task.x.y",
            },
            doc.Entries.Select(e => e.Path));

        var arch = doc.Find("architectures")!;
        Assert.Equal(ConfigKind.Array, arch.Kind);
        Assert.Equal(new[] { "Blip2ForConditionalGeneration" }, arch.Items);
        Assert.Equal(ConfigKind.Number, doc.Find("vision_config.hidden_size")!.Kind);
        Assert.Equal("1408", doc.Find("vision_config.hidden_size")!.Value);
        Assert.Equal("1e-06", doc.Find("vision_config.layer_norm_eps")!.Value);
        Assert.Equal(ConfigKind.Bool, doc.Find("vision_config.qkv_bias")!.Kind);
        Assert.Equal("true", doc.Find("vision_config.qkv_bias")!.Value);
        Assert.Equal(ConfigKind.String, doc.Find("vision_config.hidden_act")!.Kind);
        Assert.Equal("gelu", doc.Find("vision_config.hidden_act")!.Value);
        Assert.Equal(new[] { "1", "2" }, doc.Find("text_config.eos_token_id")!.Items);
        Assert.Equal(ConfigKind.Null, doc.Find("text_config.word_embed_proj_dim")!.Kind);
        Assert.Null(doc.Find("vision_config"));
    }

    [Fact]
    public void Entries_point_at_their_value_in_the_file()
    {
        var doc = Parse("{\n  \"vision_config\": {\n    \"hidden_size\": 1408\n  }\n}");
        var location = doc.Find("vision_config.hidden_size")!.Location!;
        Assert.Equal(Path, location.FilePath);
        Assert.Equal(2, location.LineSpan.Start.Line);        // 0-based: the third line
        Assert.Equal(19, location.LineSpan.Start.Character);
        Assert.Equal(4, location.Span.Length);
    }

    [Fact]
    public void A_repeated_key_takes_the_last_value_like_python()
    {
        var doc = Parse("{\"a\": 1, \"b\": 2, \"a\": 3}");
        Assert.Equal(new[] { "a", "b" }, doc.Entries.Select(e => e.Path));
        Assert.Equal("3", doc.Find("a")!.Value);
    }

    [Fact]
    public void Syntax_errors_are_BLIP2002_with_line_and_column()
    {
        var parsed = ConfigFileParser.Parse(Path, SourceText.From("{\n  \"a\": 1,\n  \"b\": tru\n}"));
        Assert.Null(parsed.Document);
        var error = parsed.Error!;
        Assert.Equal("BLIP2002", error.Id);
        Assert.Equal(new[] { Path, "3", "8" }, error.MessageArgs.Take(3));
        Assert.Equal(2, error.Location!.LineSpan.Start.Line);
    }

    [Fact]
    public void The_top_level_must_be_an_object()
    {
        var parsed = ConfigFileParser.Parse(Path, SourceText.From("[1, 2]"));
        Assert.Contains("must be an object", parsed.Error!.MessageArgs[3]);
    }

    [Fact]
    public void Parsed_documents_compare_by_value()
    {
        const string json = "{\"a\": [1, 2], \"b\": {\"c\": \"d\"}}";
        Assert.Equal(ConfigFileParser.Parse(Path, SourceText.From(json)), ConfigFileParser.Parse(Path, SourceText.From(json)));
        Assert.NotEqual(ConfigFileParser.Parse(Path, SourceText.From(json)), ConfigFileParser.Parse(Path, SourceText.From(json.Replace("2", "3"))));
    }
}
