using Blip2Compiler.Tests;

namespace Blip2Compiler.Generator.Tests.Infrastructure;

/// <summary>Paths in the repository, found from the fixtures folder.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = Path.GetFullPath(Path.Combine(Fixtures.Root, "..", ".."));

    public static string AttributeSources => Path.Combine(Root, "runtime", "Blip2Compiler.Runtime", "Attributes");

    public static string PublishedConfigs => Path.Combine(Root, "tests", "Blip2Compiler.Generator.Tests", "Configs", "Published");

    public static string PublishedConfig(string name) => Path.Combine(PublishedConfigs, name, "config.json");

    public static string TowerConfig(string name) => Path.Combine(Root, "tests", "Blip2Compiler.Runtime.Tests", "Towers", name, "config.json");

    public static string FixtureConfig(string @case) => Path.Combine(Fixtures.Golden(@case), "model", "config.json");
}
