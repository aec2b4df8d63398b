namespace Blip2Compiler.Generator;

/// <summary>
/// A checked <c>[Blip2Model]</c> class with its configuration: everything the graph compiler needs, as values.
/// <see cref="Namespace"/> is "" for the global namespace; <see cref="Accessibility"/> is the C# keyword.
/// </summary>
internal sealed record ModelDeclaration(
    string Namespace,
    string ClassName,
    string Accessibility,
    ConfigDocument Config,
    LocationInfo AttributeLocation);
