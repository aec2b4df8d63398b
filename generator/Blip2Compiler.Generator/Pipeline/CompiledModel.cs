namespace Blip2Compiler.Generator.Pipeline;

/// <summary>The outcome for one model: the files to add (hint names complete) and the diagnostics to report.</summary>
internal sealed record CompiledModel(EquatableArray<GeneratedFile> Files, EquatableArray<DiagnosticInfo> Diagnostics);
