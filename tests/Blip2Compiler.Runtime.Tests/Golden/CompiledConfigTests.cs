using System.Text.Json;
using System.Text.Json.Nodes;
using Blip2Compiler.Models;

namespace Blip2Compiler.Tests.Golden;

/// <summary>A checkpoint's config.json against the config its class was compiled from (defaults from config.graph).</summary>
public class CompiledConfigTests
{
    private static JsonObject Config(string fixture) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Golden(fixture), "model", "config.json")))!.AsObject();

    private static IReadOnlyList<string> Mismatches(JsonObject config, ModelInfo info) =>
        CompiledConfig.Mismatches(JsonDocument.Parse(config.ToJsonString()).RootElement, info);

    public static TheoryData<string> Fixtures_ => new() { "blip2-opt", "blip2-flan-t5", "blip2-itm", "blip2-features" };

    [Theory]
    [MemberData(nameof(Fixtures_))]
    public void EachFixtureMatchesItsOwnClassAndNoOther(string fixture)
    {
        var infos = new Dictionary<string, ModelInfo>
        {
            ["blip2-opt"] = GoldenOpt.Info, ["blip2-flan-t5"] = GoldenFlanT5.Info,
            ["blip2-itm"] = GoldenItm.Info, ["blip2-features"] = GoldenFeatures.Info,
        };
        Assert.NotEmpty(infos[fixture].Config);
        foreach (var (name, info) in infos)
        {
            var problems = Mismatches(Config(fixture), info);
            if (name == fixture) Assert.Empty(problems);
            else Assert.NotEmpty(problems);
        }
    }

    [Fact]
    public void AChangedSizeIsNamedWithBothValues()
    {
        var config = Config("blip2-opt");
        config["text_config"]!["ffn_dim"] = 128;
        Assert.Equal(["text_config.ffn_dim is 128, compiled with 64"], Mismatches(config, GoldenOpt.Info));
    }

    [Fact]
    public void AnOmittedFieldTakesHuggingFacesDefault()
    {
        var config = Config("blip2-opt");
        // Omitted and equal to the default: still the compiled model.
        config["text_config"]!.AsObject().Remove("activation_function");
        Assert.Empty(Mismatches(config, GoldenOpt.Info));
        // Omitted but compiled with another value: the default (3072) is what the checkpoint means.
        config["text_config"]!.AsObject().Remove("ffn_dim");
        Assert.Equal(["text_config.ffn_dim is 3072, compiled with 64"], Mismatches(config, GoldenOpt.Info));
    }

    [Fact]
    public void ADefaultFromAnotherFieldFollowsThatField()
    {
        // word_embed_proj_dim defaults to hidden_size (32 in the fixture, as compiled): omitting it changes nothing.
        var config = Config("blip2-opt");
        config["text_config"]!.AsObject().Remove("word_embed_proj_dim");
        Assert.Empty(Mismatches(config, GoldenOpt.Info));
        Assert.Contains(GoldenOpt.Info.Config, v => v.Path == "text_config.word_embed_proj_dim" && v.DefaultFrom == "text_config.hidden_size");
    }

    [Fact]
    public void ValuesOfTheWrongKindAreMismatchesNotCrashes()
    {
        var config = Config("blip2-opt");
        config["architectures"] = new JsonArray(7);
        config["text_config"]!["model_type"] = 3;
        config["text_config"]!["ffn_dim"] = "wide";
        var problems = Mismatches(config, GoldenOpt.Info);
        Assert.Contains("architectures is 7, compiled with Blip2ForConditionalGeneration", problems);
        Assert.Contains("text_config.model_type is '3', compiled with 'opt'", problems);
        Assert.Contains("text_config.ffn_dim is 'wide', compiled with 64", problems);
        Assert.Equal(["config.json is not a JSON object"], CompiledConfig.Mismatches(JsonDocument.Parse("[1]").RootElement, GoldenOpt.Info));
    }

    [Fact]
    public void ArchitectureAndTextModelTypeAreCompared()
    {
        var config = Config("blip2-opt");
        config["architectures"] = new JsonArray("Blip2ForImageTextRetrieval");
        config["text_config"]!["model_type"] = "t5";
        var problems = Mismatches(config, GoldenOpt.Info);
        Assert.Contains(problems, p => p.StartsWith("architectures is Blip2ForImageTextRetrieval", StringComparison.Ordinal));
        Assert.Contains("text_config.model_type is 't5', compiled with 'opt'", problems);
    }

    // CompiledConfig.FindMatch: a tool with several compiled classes picks one for a folder's config.json.

    private static readonly (string Name, ModelInfo Info)[] Compiled =
        [("opt", GoldenOpt.Info), ("flan-t5", GoldenFlanT5.Info), ("itm", GoldenItm.Info), ("features", GoldenFeatures.Info)];

    private static CheckpointConfig Written(Blip2Compiler.Tests.Checkpoints.TempDirectory folder, string text)
    {
        File.WriteAllText(folder.File("config.json"), text);
        return CheckpointConfig.Read(folder.Path)!;
    }

    [Theory]
    [InlineData("blip2-opt", "opt")]
    [InlineData("blip2-flan-t5", "flan-t5")]
    [InlineData("blip2-itm", "itm")]
    public void FindMatchPicksTheClassCompiledFromTheFolder(string fixture, string expected)
    {
        var config = CheckpointConfig.Read(Path.Combine(Fixtures.Golden(fixture), "model"))!;
        Assert.Equal(expected, CompiledConfig.FindMatch(config, Compiled, c => c.Info, c => c.Name).Name);
    }

    [Fact]
    public void FindMatchNamesTheClosestClassAndTheFieldsItDiffersIn()
    {
        using var folder = new Blip2Compiler.Tests.Checkpoints.TempDirectory();
        var json = Config("blip2-opt");
        json["text_config"]!["ffn_dim"] = 128;
        var config = Written(folder, json.ToJsonString());
        var error = Assert.Throws<NoMatchingModelException>(() => CompiledConfig.FindMatch(config, Compiled, c => c.Info, c => c.Name));
        Assert.Equal("opt", error.Closest);
        Assert.Equal(["text_config.ffn_dim is 128, compiled with 64"], error.Differences);
        Assert.Equal(folder.File("config.json"), error.ConfigPath);
        Assert.Contains("the closest, opt, differs in text_config.ffn_dim is 128, compiled with 64", error.Message);
    }

    [Fact]
    public void FindMatchSaysAConfigOfAnotherFamilyIsOne()
    {
        using var folder = new Blip2Compiler.Tests.Checkpoints.TempDirectory();
        var config = Written(folder, """{ "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048 }""");
        var error = Assert.Throws<NotBlip2ConfigException>(() => CompiledConfig.FindMatch(config, Compiled, c => c.Info, c => c.Name));
        Assert.Equal("llama", error.ModelType);
        Assert.Equal("LlamaForCausalLM", error.Architecture);
    }

    [Theory]
    // json.load (Hugging Face) refuses comments and trailing commas; the strict policy refuses what it refuses.
    [InlineData("{ \"num_query_tokens\": 6, }", "not valid JSON")]
    [InlineData("{ /* a comment */ \"num_query_tokens\": 6 }", "not valid JSON")]
    [InlineData("[1, 2]", "not a JSON object")]
    public void AConfigJsonIsReadStrictly(string text, string message)
    {
        using var folder = new Blip2Compiler.Tests.Checkpoints.TempDirectory();
        File.WriteAllText(folder.File("config.json"), text);
        var error = Assert.Throws<ConfigMismatchException>(() => CheckpointConfig.Read(folder.Path));
        Assert.Contains(message, error.Message);
        Assert.Equal(folder.File("config.json"), error.File);
    }

    [Fact]
    public void InvalidUtf8InAConfigJsonIsATypedError()
    {
        using var folder = new Blip2Compiler.Tests.Checkpoints.TempDirectory();
        File.WriteAllBytes(folder.File("config.json"), [(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}']);
        Assert.Contains("UTF-8", Assert.Throws<ConfigMismatchException>(() => CheckpointConfig.Read(folder.Path)).Message);
    }

    [Fact]
    public void TheLoadChecksTheConfigItWasGivenWithoutReadingTheFileAgain()
    {
        // The config a caller read (and matched) is the one the load checks: here another checkpoint's, so the load
        // refuses the folder although its own config.json is the class's.
        var folder = Path.Combine(Fixtures.Golden("blip2-opt"), "model");
        var other = CheckpointConfig.Read(Path.Combine(Fixtures.Golden("blip2-flan-t5"), "model"))!;
        var error = Assert.Throws<ConfigMismatchException>(() => GoldenOpt.Load(folder, new Blip2LoadOptions { Config = other }));
        Assert.Equal(other.Path, error.File);
        using var model = GoldenOpt.Load(folder, new Blip2LoadOptions { Config = CheckpointConfig.Read(folder) });
        Assert.Equal(folder, model.CheckpointDirectory);
    }
}
