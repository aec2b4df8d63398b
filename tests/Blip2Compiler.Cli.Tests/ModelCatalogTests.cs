namespace Blip2Compiler.Tests.CommandLine;

/// <summary>The CLI picks the compiled class from a folder's config.json.</summary>
public class ModelCatalogTests
{
    public static TheoryData<string> PublishedConfigs() =>
        [.. Directory.GetDirectories(Path.Combine(CliRun.RepoRoot, "samples", "Blip2.Cli", "Models")).Select(d => Path.GetFileName(d)).Order()];

    [Theory]
    [MemberData(nameof(PublishedConfigs))]
    public async Task PublishedConfigIsRecognizedAndOnlyItsWeightsAreMissing(string name)
    {
        using var temp = new TempFolder();
        File.Copy(Path.Combine(CliRun.RepoRoot, "samples", "Blip2.Cli", "Models", name, "config.json"), temp.File("config.json"));
        var command = name.Contains("itm") ? new[] { "match", CliRun.Photo, "a text" } : ["caption", CliRun.Photo];
        var line = (await CliRun.Run([.. command, "--model", temp.Path])).AssertOneError(1);
        Assert.DoesNotContain("no model compiled", line);
    }

    [Fact]
    public async Task AnotherSizeIsRefusedNamingTheClosestModelAndTheField()
    {
        using var temp = new TempFolder();
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(
            Path.Combine(CliRun.RepoRoot, "samples", "Blip2.Cli", "Models", "blip2-opt-2.7b", "config.json")))!;
        config["text_config"]!["num_hidden_layers"] = 24;
        File.WriteAllText(temp.File("config.json"), config.ToJsonString());
        var line = (await CliRun.Run(["caption", CliRun.Photo, "--model", temp.Path])).AssertOneError(1);
        Assert.Contains("no model compiled into this tool matches it", line);
        Assert.Contains("blip2-opt-2.7b", line);
        Assert.Contains("text_config.num_hidden_layers is 24, compiled with 32", line);
    }

    [Fact]
    public async Task ALlamaConfigIsSaidToBeNoBlip2ModelWithoutAClosestOne()
    {
        using var temp = new TempFolder();
        // meta-llama/Llama-3.2-1B's config.json, abridged.
        File.WriteAllText(temp.File("config.json"), """
            { "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "num_hidden_layers": 16,
              "num_attention_heads": 32, "vocab_size": 128256, "max_position_embeddings": 131072 }
            """);
        var line = (await CliRun.Run(["caption", CliRun.Photo, "--model", temp.Path])).AssertOneError(1);
        Assert.Contains("a 'llama' model (LlamaForCausalLM), not a BLIP-2 model", line);
        Assert.DoesNotContain("closest", line);
        Assert.DoesNotContain("blip2-itm-vit-g", line);
    }

    [Fact]
    public async Task ABlip2ConfigWithoutModelTypeStillGetsTheClosestModel()
    {
        using var temp = new TempFolder();
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(
            Path.Combine(CliRun.RepoRoot, "samples", "Blip2.Cli", "Models", "blip2-opt-2.7b", "config.json")))!.AsObject();
        config.Remove("model_type");
        config["num_query_tokens"] = 16;
        File.WriteAllText(temp.File("config.json"), config.ToJsonString());
        var line = (await CliRun.Run(["caption", CliRun.Photo, "--model", temp.Path])).AssertOneError(1);
        Assert.Contains("the closest, blip2-opt-2.7b", line);
    }

    [Fact]
    public void CompiledClassesCarryThePublishedSizes()
    {
        Assert.Equal(50304, Blip2.Cli.Blip2Opt27b.Info.VocabSize);
        Assert.Equal(32, Blip2.Cli.Blip2Opt27b.Info.NumQueryTokens);
        Assert.Equal(364, Blip2.Cli.Blip2Opt67bCoco.Info.ImageSize);
        Assert.Equal("t5", Blip2.Cli.Blip2FlanT5Xl.Info.TextModelType);
        Assert.Equal(1500, Blip2.Cli.BundledTinyOpt.Info.ImageTokenIndex);
        Assert.Equal(1501, Blip2.Cli.BundledTinyOpt.Info.VocabSize);
    }
}
