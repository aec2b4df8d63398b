namespace Blip2Compiler.Generator.Declaration;

/// <summary>A model ready for the graph compiler (<see cref="Model"/>), or the diagnostics that stop it.</summary>
internal sealed record ResolvedModel(string DisplayName, ModelDeclaration? Model, EquatableArray<DiagnosticInfo> Diagnostics);
