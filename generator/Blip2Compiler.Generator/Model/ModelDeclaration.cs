namespace Blip2Compiler.Generator;

/// <summary>
/// A checked <c>[Blip2Model]</c> class with its configuration: everything the graph compiler needs, as values.
/// <see cref="Namespace"/> is "" for the global namespace; <see cref="Accessibility"/> is the C# keyword.
/// <see cref="Architecture"/>, when set, is the class to build from the config instead of its own
/// <c>architectures</c> (a tower taken out of a full checkpoint, as <c>Blip2VisionModel.from_pretrained</c> on one).
/// </summary>
internal sealed record ModelDeclaration(
    string Namespace,
    string ClassName,
    string Accessibility,
    ConfigDocument Config,
    LocationInfo AttributeLocation,
    string? Architecture = null);
