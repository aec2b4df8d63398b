namespace Blip2Compiler.Generator.Declaration;

/// <summary>A request with its config.json found among the AdditionalFiles (<see cref="ConfigFile"/>), or the diagnostics saying why not.</summary>
internal sealed record LocatedRequest(ModelRequest Request, string? ConfigFile, EquatableArray<DiagnosticInfo> Diagnostics);
