using System.Collections.Immutable;
using System.Text.Json;
using Blip2Compiler.Generator;
using Blip2Compiler.Generator.Graphs;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Tests.Graphs;

public class GraphCompilerTests
{
    internal static ConfigDocument FromJson(string path)
    {
        var entries = ImmutableArray.CreateBuilder<ConfigEntry>();
        void Walk(string prefix, JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject()) Walk(prefix.Length == 0 ? p.Name : prefix + "." + p.Name, p.Value);
                    break;
                case JsonValueKind.Array:
                    entries.Add(new ConfigEntry(prefix, ConfigKind.Array, "", new EquatableArray<string>(e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : x.GetRawText()).ToImmutableArray()), null));
                    break;
                case JsonValueKind.String: entries.Add(new ConfigEntry(prefix, ConfigKind.String, e.GetString()!, default, null)); break;
                case JsonValueKind.Number: entries.Add(new ConfigEntry(prefix, ConfigKind.Number, e.GetRawText(), default, null)); break;
                case JsonValueKind.True: case JsonValueKind.False: entries.Add(new ConfigEntry(prefix, ConfigKind.Bool, e.GetRawText(), default, null)); break;
                default: entries.Add(new ConfigEntry(prefix, ConfigKind.Null, "", default, null)); break;
            }
        }
        Walk("", JsonDocument.Parse(File.ReadAllText(path)).RootElement);
        return new ConfigDocument(path, new EquatableArray<ConfigEntry>(entries.ToImmutable()));
    }

    internal static CompileResult CompileFixture(string @case, string className = "TinyModel")
    {
        var config = FromJson(Path.Combine(Fixtures.Golden(@case), "model", "config.json"));
        var location = new LocationInfo("Model.cs", new TextSpan(0, 1), new LinePositionSpan(default, default));
        return GraphCompiler.Compile(new ModelDeclaration("Demo", className, "public", config, location));
    }

    [Theory]
    [InlineData("blip2-opt")]
    [InlineData("blip2-flan-t5")]
    [InlineData("blip2-itm")]
    [InlineData("blip2-features")]
    public void FixtureConfigsCompileWithoutDiagnostics(string @case)
    {
        var result = CompileFixture(@case, "Tiny" + string.Concat(@case.Split('-').Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p.Substring(1))));
        Assert.Empty(result.Diagnostics);
        var dump = Environment.GetEnvironmentVariable("BLIP2_DUMP_GENERATED");
        if (dump is not null)
        {
            Directory.CreateDirectory(Path.Combine(dump, @case));
            foreach (var f in result.Files) File.WriteAllText(Path.Combine(dump, @case, f.HintName + ".g.cs"), f.Source);
        }
        Assert.Contains(result.Files, f => f.HintName == "KeyMap");
    }
}
