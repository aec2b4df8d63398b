namespace Blip2Compiler.Generator.Declaration;

/// <summary>
/// What one <c>[Blip2Model]</c> class asks for, as values (no symbols or syntax cross the incremental cache).
/// Either <see cref="ConfigPath"/> is set (a config.json among the AdditionalFiles) or <see cref="DeclaredConfig"/>
/// holds the values declared with attributes. <see cref="Diagnostics"/> are the declaration's errors: a request with
/// any is not compiled. <see cref="Architecture"/> is <c>Architecture = ...</c> given beside a config path: the class
/// to build from that config instead of its own <c>architectures</c>.
/// </summary>
internal sealed record ModelRequest(
    string Namespace,
    string ClassName,
    string Accessibility,
    string SourceFilePath,
    LocationInfo AttributeLocation,
    string? ConfigPath,
    LocationInfo? ConfigPathLocation,
    ConfigDocument? DeclaredConfig,
    EquatableArray<DiagnosticInfo> Diagnostics,
    string? Architecture = null)
{
    /// <summary>The class name as the user wrote it, with its namespace, for messages.</summary>
    public string DisplayName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;
}
