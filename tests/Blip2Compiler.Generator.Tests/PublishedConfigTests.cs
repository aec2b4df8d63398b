using Blip2Compiler.Generator.Declaration;
using Blip2Compiler.Generator.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Generator.Tests;

/// <summary>The published Salesforce configurations parse, type-check and compile without errors.</summary>
public class PublishedConfigTests
{
    [Theory]
    [MemberData(nameof(ConfigCases.PublishedNames), MemberType = typeof(ConfigCases))]
    public void Published_config_compiles_without_errors(string name)
    {
        var run = ConfigCases.Run(name);
        Assert.Null(run.Result.Exception);
        Assert.DoesNotContain(run.Result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.NotEmpty(run.Result.GeneratedSources);
    }

    [Theory]
    [MemberData(nameof(ConfigCases.PublishedNames), MemberType = typeof(ConfigCases))]
    public void Published_config_parses_with_the_values_the_readme_lists(string name)
    {
        var path = RepoPaths.PublishedConfig(name);
        var parsed = ConfigFileParser.Parse(path, SourceText.From(File.ReadAllText(path)));
        Assert.Null(parsed.Error);
        var doc = parsed.Document!;
        Assert.Empty(ConfigTypeChecker.Check(doc));

        Assert.Equal("32", doc.Find("num_query_tokens")!.Value);
        Assert.Equal("256", doc.Find("image_text_hidden_size")!.Value);
        var architecture = Assert.Single(doc.Find("architectures")!.Items);
        Assert.Equal(name.Contains("itm") ? "Blip2ForImageTextRetrieval" : "Blip2ForConditionalGeneration", architecture);
        Assert.Equal(name.EndsWith("-coco") ? "364" : null, doc.Find("vision_config.image_size")?.Value);

        var textModel = doc.Find("text_config.model_type")!.Value;
        if (name.Contains("opt"))
        {
            Assert.Equal("opt", textModel);
            Assert.Equal("50265", doc.Find("image_token_index")!.Value);
            Assert.Equal("50118", doc.Find("text_config.eos_token_id")!.Value);
            Assert.Equal(name.Contains("2.7b") ? "2560" : "4096", doc.Find("text_config.hidden_size")!.Value);
        }
        else if (name.Contains("t5"))
        {
            Assert.Equal("t5", textModel);
            Assert.Equal("32100", doc.Find("image_token_index")!.Value);
            Assert.Equal("gated-gelu", doc.Find("text_config.feed_forward_proj")!.Value);
            Assert.Equal("false", doc.Find("text_config.tie_word_embeddings")!.Value);
            Assert.Equal(name.Contains("xxl") ? "4096" : "2048", doc.Find("text_config.d_model")!.Value);
        }
        else
        {
            Assert.Equal("true", doc.Find("qformer_config.use_qformer_text_input")!.Value);
            Assert.Equal("30523", doc.Find("qformer_config.vocab_size")!.Value);
        }
    }

    [Fact]
    public void Every_published_folder_is_a_config_case()
    {
        var folders = Directory.GetDirectories(RepoPaths.PublishedConfigs).Select(Path.GetFileName).OrderBy(n => n);
        Assert.Equal(folders, ConfigCases.Published.Select(c => c.Name).OrderBy(n => n));
    }
}
