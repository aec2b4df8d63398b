using Blip2Compiler.Generator.Tests.Infrastructure;

namespace Blip2Compiler.Generator.Tests;

/// <summary>
/// The configurations the generator is snapshot-tested on. To add one: put its config.json under Configs/ (or use a
/// golden fixture) and add a line here; the first run with SNAPSHOOTER_STRICT_MODE unset writes its snapshot.
/// </summary>
public static class ConfigCases
{
    /// <summary>The tiny models of tests/fixtures/golden, made by HF transformers.</summary>
    public static readonly ConfigCase[] Fixtures =
    {
        new("blip2-opt", "TinyBlip2Opt", RepoPaths.FixtureConfig("blip2-opt")),
        new("blip2-flan-t5", "TinyBlip2FlanT5", RepoPaths.FixtureConfig("blip2-flan-t5")),
        new("blip2-itm", "TinyBlip2Itm", RepoPaths.FixtureConfig("blip2-itm")),
        new("blip2-features", "TinyBlip2Features", RepoPaths.FixtureConfig("blip2-features")),
    };

    /// <summary>The towers' own flat config.json files (the features fixture's sub-configs, as Blip2VisionModel /
    /// Blip2QFormerModel.save_pretrained writes them), which the runtime tests load.</summary>
    public static readonly ConfigCase[] Towers =
    {
        new("blip2-vision-model", "TinyVisionTower", RepoPaths.TowerConfig("blip2-vision-model")),
        new("blip2-qformer", "TinyQFormerTower", RepoPaths.TowerConfig("blip2-qformer")),
    };

    /// <summary>Salesforce's published checkpoints (Configs/Published, see the README there).</summary>
    public static readonly ConfigCase[] Published =
    {
        new("blip2-opt-2.7b", "Blip2Opt27b", RepoPaths.PublishedConfig("blip2-opt-2.7b")),
        new("blip2-opt-6.7b", "Blip2Opt67b", RepoPaths.PublishedConfig("blip2-opt-6.7b")),
        new("blip2-opt-6.7b-coco", "Blip2Opt67bCoco", RepoPaths.PublishedConfig("blip2-opt-6.7b-coco")),
        new("blip2-flan-t5-xl", "Blip2FlanT5Xl", RepoPaths.PublishedConfig("blip2-flan-t5-xl")),
        new("blip2-flan-t5-xxl", "Blip2FlanT5Xxl", RepoPaths.PublishedConfig("blip2-flan-t5-xxl")),
        new("blip2-flan-t5-xl-coco", "Blip2FlanT5XlCoco", RepoPaths.PublishedConfig("blip2-flan-t5-xl-coco")),
        new("blip2-itm-vit-g", "Blip2ItmVitG", RepoPaths.PublishedConfig("blip2-itm-vit-g")),
        new("blip2-itm-vit-g-coco", "Blip2ItmVitGCoco", RepoPaths.PublishedConfig("blip2-itm-vit-g-coco")),
    };

    public static IEnumerable<ConfigCase> All => Fixtures.Concat(Towers).Concat(Published);

    public static ConfigCase Get(string name) => All.Single(c => c.Name == name);

    public static TheoryData<string> AllNames => new(All.Select(c => c.Name));

    public static TheoryData<string> PublishedNames => new(Published.Select(c => c.Name));

    public static GeneratorRunResultWithCase Run(string name)
    {
        var c = Get(name);
        var result = GeneratorHarness.Run(c.Source, GeneratorHarness.File(c.AdditionalFilePath, File.ReadAllText(c.ConfigFile)));
        return new GeneratorRunResultWithCase(c, result);
    }
}

public sealed record GeneratorRunResultWithCase(ConfigCase Case, Microsoft.CodeAnalysis.GeneratorRunResult Result);
