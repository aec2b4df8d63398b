using System.Reflection;

namespace Blip2Compiler.Tests;

/// <summary>Paths to the committed reference fixtures (tests/fixtures), independent of the working directory.</summary>
internal static class Fixtures
{
    public static string Root { get; } = Locate();

    public static string Golden(string @case) => Path.Combine(Root, "golden", @case);

    private static string Locate()
    {
        var fromBuild = typeof(Fixtures).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "FixturesDir")?.Value;
        if (fromBuild is not null && Directory.Exists(fromBuild)) return fromBuild;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/fixtures not found above " + AppContext.BaseDirectory);
    }
}
