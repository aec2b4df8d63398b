namespace Blip2Compiler.Generator.Declaration;

/// <summary>
/// One JSON additional file after parsing: its document, or the syntax error that stopped it
/// (reported only when a [Blip2Model] class refers to this file).
/// </summary>
internal sealed record ParsedConfigFile(string Path, ConfigDocument? Document, DiagnosticInfo? Error);
