namespace Blip2Compiler.Generator;

/// <summary>One generated source file; <see cref="HintName"/> is the part after the class name ("Model" → <c>Blip2Opt.Model.g.cs</c>).</summary>
internal sealed record GeneratedFile(string HintName, string Source);

/// <summary>What the graph compiler produced for one model.</summary>
internal sealed record CompileResult(EquatableArray<GeneratedFile> Files, EquatableArray<DiagnosticInfo> Diagnostics);
