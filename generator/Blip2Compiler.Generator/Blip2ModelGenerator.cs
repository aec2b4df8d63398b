using System.Linq;
using Blip2Compiler.Generator.Pipeline;
using Blip2Compiler.Generator.Declaration;
using Microsoft.CodeAnalysis;

namespace Blip2Compiler.Generator;

/// <summary>
/// Compiles each <c>[Blip2Model]</c> class into a typed BLIP-2 model. The pipeline carries only values that compare
/// by content (no symbols, syntax or Compilation), so an edit elsewhere in the project reuses every cached step:
/// <code>
/// [Blip2Model] classes ─► ModelRequests ─┐
/// AdditionalFiles paths ─► AdditionalFilePaths ─► LocatedRequests ─► WantedConfigFiles
/// AdditionalFiles (wanted only) ─► ParsedConfigFiles ─► ResolvedModels ─┐
/// AdditionalFiles *.graph ─► UserGraphs ─────────────────────────────────► CompiledModels ─► AddSource + diagnostics
/// </code>
/// Only the config files some model names are read and parsed, each once per change.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class Blip2ModelGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var requests = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeNames.Blip2Model, ModelRequestParser.IsCandidate, ModelRequestParser.Parse)
            .WithTrackingName(TrackingNames.ModelRequests);

        var filePaths = context.AdditionalTextsProvider
            .Select((text, _) => text.Path)
            .Collect()
            .Select((paths, _) => paths.ToEquatableArray())
            .WithTrackingName(TrackingNames.AdditionalFilePaths);

        var located = requests
            .Combine(filePaths)
            .Select(ConfigLocator.Locate)
            .WithTrackingName(TrackingNames.LocatedRequests);

        var wanted = located
            .Select((request, _) => request.ConfigFile)
            .Collect()
            .Select((files, _) => files.Where(f => f is not null).Select(f => f!).Distinct().OrderBy(f => f, System.StringComparer.Ordinal).ToEquatableArray())
            .WithTrackingName(TrackingNames.WantedConfigFiles);

        var parsed = context.AdditionalTextsProvider
            .Combine(wanted)
            .Where(pair => pair.Right.Contains(pair.Left.Path))
            .Select((pair, cancellationToken) => ConfigFileParser.Parse(pair.Left.Path, pair.Left.GetText(cancellationToken)))
            .WithTrackingName(TrackingNames.ParsedConfigFiles);

        var resolved = located
            .Combine(parsed.Collect())
            .Select(ModelResolver.Resolve)
            .WithTrackingName(TrackingNames.ResolvedModels);

        var userGraphs = context.AdditionalTextsProvider
            .Where(text => text.Path.EndsWith(".graph", System.StringComparison.OrdinalIgnoreCase))
            .Select((text, cancellationToken) => new GraphSource(text.Path, text.GetText(cancellationToken)?.ToString() ?? ""))
            .Collect()
            .Select((graphs, _) => graphs.OrderBy(g => g.Path, System.StringComparer.Ordinal).ToEquatableArray())
            .WithTrackingName(TrackingNames.UserGraphs);

        var compiled = resolved
            .Combine(userGraphs)
            .Select(CompileStep.Compile)
            .WithTrackingName(TrackingNames.CompiledModels);

        context.RegisterSourceOutput(compiled, SourceEmitter.Emit);
    }
}
