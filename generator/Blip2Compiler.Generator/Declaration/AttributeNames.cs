namespace Blip2Compiler.Generator.Declaration;

/// <summary>Metadata names of the attributes in the runtime (runtime/Blip2Compiler.Runtime/Attributes).</summary>
internal static class AttributeNames
{
    public const string Blip2Model = "Blip2Compiler.Blip2ModelAttribute";
    public const string VisionConfig = "Blip2Compiler.VisionConfigAttribute";
    public const string QFormerConfig = "Blip2Compiler.QFormerConfigAttribute";
    public const string OptTextConfig = "Blip2Compiler.OptTextConfigAttribute";
    public const string T5TextConfig = "Blip2Compiler.T5TextConfigAttribute";
}
