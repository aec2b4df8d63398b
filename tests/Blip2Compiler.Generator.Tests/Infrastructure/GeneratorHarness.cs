using System.Collections.Immutable;
using System.Text;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Blip2Compiler.Generator.Tests.Infrastructure;

/// <summary>
/// Runs <see cref="Blip2ModelGenerator"/> on an in-memory project: .NET 10 reference assemblies, the runtime's
/// attribute sources (compiled in, as the real Blip2Compiler.dll would provide them), the user's C# and AdditionalFiles.
/// </summary>
internal static class GeneratorHarness
{
    /// <summary>Virtual project folder: paths in diagnostics and snapshots are the same on every machine.</summary>
    public const string ProjectDir = "/project/";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<ImmutableArray<SyntaxTree>> AttributeTrees = new(() =>
        Directory.GetFiles(RepoPaths.AttributeSources, "*.cs").OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => CSharpSyntaxTree.ParseText(System.IO.File.ReadAllText(f), ParseOptions, path: "/runtime/Attributes/" + Path.GetFileName(f)))
            .ToImmutableArray());

    public static CSharpCompilation CreateCompilation(params (string Path, string Source)[] sources) =>
        CSharpCompilation.Create(
            "UserProject",
            AttributeTrees.Value.Concat(sources.Select(s => CSharpSyntaxTree.ParseText(s.Source, ParseOptions, path: ProjectDir + s.Path))),
            Net100.References.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver(IEnumerable<AdditionalText> additionalFiles, bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(
            new[] { new Blip2ModelGenerator().AsSourceGenerator() },
            additionalFiles,
            ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs the generator once on <paramref name="source"/> (as Models.cs) with the given AdditionalFiles.</summary>
    public static GeneratorRunResult Run(string source, params AdditionalText[] additionalFiles)
    {
        var driver = CreateDriver(additionalFiles).RunGenerators(CreateCompilation(("Models.cs", source)));
        return driver.GetRunResult().Results.Single();
    }

    public static AdditionalText File(string projectRelativePath, string content) => new InMemoryAdditionalText(ProjectDir + projectRelativePath, content);

    /// <summary>Every generated file and diagnostic as text: what the snapshots hold.</summary>
    public static string Describe(GeneratorRunResult result)
    {
        var sb = new StringBuilder();
        foreach (var source in result.GeneratedSources.OrderBy(s => s.HintName, StringComparer.Ordinal))
        {
            sb.Append("// ===== ").Append(source.HintName).AppendLine(" =====");
            sb.AppendLine(source.SourceText.ToString().TrimEnd());
            sb.AppendLine();
        }
        sb.AppendLine("// ===== diagnostics =====");
        if (result.Diagnostics.IsEmpty) sb.AppendLine("(none)");
        foreach (var d in result.Diagnostics.OrderBy(d => d.Id, StringComparer.Ordinal).ThenBy(d => d.Location.SourceSpan.Start))
            sb.AppendLine(Format(d));
        if (result.Exception is not null) sb.AppendLine("EXCEPTION: " + result.Exception);
        return sb.ToString().Replace("\r\n", "\n");
    }

    /// <summary>
    /// The same, one entry per generated file (named by its hint name, namespace and class prefix left off) and one
    /// for the diagnostics: what the snapshots hold, a file each, so a review diff shows which class changed.
    /// </summary>
    public static IEnumerable<(string Name, string Text)> DescribeFiles(GeneratorRunResult result)
    {
        foreach (var source in result.GeneratedSources.OrderBy(s => s.HintName, StringComparer.Ordinal))
        {
            var name = source.HintName.EndsWith(".g.cs", StringComparison.Ordinal) ? source.HintName[..^".g.cs".Length] : source.HintName;
            var parts = name.Split('.');
            // "Blip2Compiler.Models.TinyBlip2Opt.VisionLayer" → "VisionLayer"; the class name is the case's own.
            yield return (parts[^1], source.SourceText.ToString().TrimEnd().Replace("\r\n", "\n") + "\n");
        }
        var sb = new StringBuilder();
        if (result.Diagnostics.IsEmpty) sb.AppendLine("(none)");
        foreach (var d in result.Diagnostics.OrderBy(d => d.Id, StringComparer.Ordinal).ThenBy(d => d.Location.SourceSpan.Start))
            sb.AppendLine(Format(d));
        if (result.Exception is not null) sb.AppendLine("EXCEPTION: " + result.Exception);
        yield return ("diagnostics", sb.ToString().Replace("\r\n", "\n"));
    }

    public static string Format(Diagnostic d)
    {
        var span = d.Location.GetLineSpan();
        var where = d.Location == Location.None ? "(no location)" : $"{span.Path}({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1})";
        return $"{d.Id} {d.Severity} {where}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
    }
}
