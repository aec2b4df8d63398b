using System.Collections;
using System.Reflection;
using Blip2Compiler.Generator.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using static Blip2Compiler.Generator.Tests.Infrastructure.GeneratorHarness;

namespace Blip2Compiler.Generator.Tests;

/// <summary>
/// The pipeline must reuse its cached steps when nothing it depends on changed, which only works if every step's
/// output compares by value and holds no Compilation, symbol or syntax.
/// </summary>
public class IncrementalTests
{
    private const string ModelSource = """
        namespace App;

        [Blip2Compiler.Blip2Model("blip2-opt/config.json")]
        public partial class Blip2Opt { }
        """;

    private static readonly string[] AllSteps = TrackingNames.All;

    private static (GeneratorDriver Driver, CSharpCompilation Compilation, AdditionalText Config, AdditionalText Unrelated) FirstRun()
    {
        var config = File("Configs/blip2-opt/config.json", System.IO.File.ReadAllText(RepoPaths.FixtureConfig("blip2-opt")));
        var unrelatedJson = File("appsettings.json", "{\"Logging\": {}}");
        var compilation = CreateCompilation(("Models.cs", ModelSource));
        var driver = CreateDriver(new[] { config, unrelatedJson }, trackSteps: true).RunGenerators(compilation);
        var first = driver.GetRunResult().Results.Single();
        Assert.Empty(first.Diagnostics);
        Assert.Contains(first.GeneratedSources, s => s.HintName.EndsWith(".KeyMap.g.cs"));
        return (driver, compilation, config, unrelatedJson);
    }

    private static void AssertAllCached(GeneratorRunResult result, params string[] steps)
    {
        foreach (var step in steps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), "step " + step + " was not tracked");
            var reasons = result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
            Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, step + " was " + r));
        }
        var outputs = result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason);
        Assert.All(outputs, r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void An_unrelated_edit_reuses_every_step()
    {
        var (driver, compilation, _, _) = FirstRun();
        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace App; class Other { int X => 1; }", GeneratorHarness.ParseOptions, path: ProjectDir + "Other.cs"));

        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        AssertAllCached(second, AllSteps);
    }

    [Fact]
    public void Editing_the_model_class_body_keeps_the_request_unchanged()
    {
        var (driver, compilation, _, _) = FirstRun();
        var tree = compilation.SyntaxTrees.Single(t => t.FilePath.EndsWith("Models.cs"));
        var newTree = tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(ModelSource.Replace("{ }", "{ public int Extra => 42; }")));

        var second = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, newTree)).GetRunResult().Results.Single();

        // The attribute's transform re-runs (its tree changed) but yields an equal request, so nothing after it runs.
        Assert.Contains(second.TrackedSteps[TrackingNames.ModelRequests].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Unchanged);
        AssertAllCached(second, TrackingNames.ModelRequests, TrackingNames.ResolvedModels, TrackingNames.CompiledModels);
    }

    [Fact]
    public void Editing_an_unrelated_additional_file_does_not_reparse_the_config()
    {
        var (driver, compilation, _, unrelated) = FirstRun();
        var replaced = driver.ReplaceAdditionalText(unrelated, File("appsettings.json", "{\"Logging\": {\"Level\": 1}}"));

        var second = replaced.RunGenerators(compilation).GetRunResult().Results.Single();

        AssertAllCached(second, TrackingNames.ParsedConfigFiles, TrackingNames.ResolvedModels, TrackingNames.CompiledModels);
    }

    [Fact]
    public void Editing_the_config_file_regenerates()
    {
        var (driver, compilation, config, _) = FirstRun();
        var changed = File("Configs/blip2-opt/config.json", System.IO.File.ReadAllText(RepoPaths.FixtureConfig("blip2-opt")).Replace("\"num_query_tokens\": 6", "\"num_query_tokens\": 8"));

        var second = driver.ReplaceAdditionalText(config, changed).RunGenerators(compilation).GetRunResult().Results.Single();

        Assert.Contains(second.TrackedSteps[TrackingNames.ParsedConfigFiles].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains(second.TrackedSteps[TrackingNames.CompiledModels].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("NumQueryTokens = 8,", second.GeneratedSources.Single(s => s.HintName.EndsWith(".Model.g.cs")).SourceText.ToString());
    }

    [Fact]
    public void A_project_graph_is_read_by_content_and_an_edit_to_it_recompiles()
    {
        var (driver, compilation, _, _) = FirstRun();
        var graph = File("graphs/extra.graph", "# nothing yet\n");
        var withGraph = driver.AddAdditionalTexts(System.Collections.Immutable.ImmutableArray.Create(graph));
        var second = withGraph.RunGenerators(compilation);
        // A new graph is new input: the compile step runs again (its output is equal: the graph adds nothing used).
        Assert.All(second.GetRunResult().Results.Single().TrackedSteps[TrackingNames.CompiledModels].SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Unchanged, o.Reason));

        // The same text again: the graph compares equal, nothing recompiles.
        var same = second.ReplaceAdditionalText(graph, File("graphs/extra.graph", "# nothing yet\n")).RunGenerators(compilation).GetRunResult().Results.Single();
        AssertAllCached(same, TrackingNames.UserGraphs, TrackingNames.CompiledModels);

        // A broken edit is reported at its line, through the same step.
        var broken = second.ReplaceAdditionalText(graph, File("graphs/extra.graph", "root R(cfg: model)\n  linear a 3 ->\n")).RunGenerators(compilation).GetRunResult().Results.Single();
        Assert.Equal("BLIP2020", Assert.Single(broken.Diagnostics).Id);
    }

    [Fact]
    public void No_step_output_holds_a_compilation_symbol_or_syntax()
    {
        var (driver, _, _, _) = FirstRun();
        var result = driver.GetRunResult().Results.Single();
        foreach (var step in AllSteps)
        {
            foreach (var output in result.TrackedSteps[step].SelectMany(s => s.Outputs))
            {
                AssertNoBannedTypes(output.Value, step, new HashSet<object>(ReferenceEqualityComparer.Instance));
            }
        }
    }

    private static void AssertNoBannedTypes(object? value, string step, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return;
        var type = value.GetType();
        Assert.False(value is Compilation or ISymbol or SyntaxNode or SyntaxTree or SemanticModel or Location or AttributeData,
            $"step {step} holds a {type.Name}");
        if (!type.IsValueType && !seen.Add(value)) return;
        if (type.Namespace?.StartsWith("Microsoft.CodeAnalysis.Text", StringComparison.Ordinal) == true) return; // TextSpan, LinePositionSpan
        if (value is AdditionalText) return; // an input, reused by reference between runs
        if (value is IEnumerable items)
        {
            foreach (var item in items) AssertNoBannedTypes(item, step, seen);
            return;
        }
        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            AssertNoBannedTypes(field.GetValue(value), step, seen);
        }
    }
}
