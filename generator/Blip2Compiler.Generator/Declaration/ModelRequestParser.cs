using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>
/// Declaration step ModelRequests: a class marked <c>[Blip2Model]</c> → a <see cref="ModelRequest"/>. Checks the class can take generated
/// members (partial, top-level, not generic/static/file-local) and that the configuration is declared exactly one way.
/// </summary>
internal static class ModelRequestParser
{
    public static bool IsCandidate(SyntaxNode node, CancellationToken _) => node is ClassDeclarationSyntax;

    public static ModelRequest Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var declaration = (ClassDeclarationSyntax)context.TargetNode;
        var attribute = context.Attributes[0];
        var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken);
        var attributeLocation = LocationInfo.From(attributeSyntax) ?? LocationInfo.From(declaration.Identifier.GetLocation())!;
        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : "";
        var sourcePath = declaration.SyntaxTree.FilePath;
        var diagnostics = new List<DiagnosticInfo>();

        var problems = ClassProblems(type, declaration);
        if (problems.Count > 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(
                DiagnosticDescriptors.InvalidModelClass, LocationInfo.From(declaration.Identifier.GetLocation()),
                type.Name, string.Join(", ", problems)));
        }

        var configPath = attribute.ConstructorArguments.Length > 0 ? attribute.ConstructorArguments[0].Value as string : null;
        var configPathLocation = attributeSyntax is AttributeSyntax { ArgumentList.Arguments: { Count: > 0 } args }
            ? LocationInfo.From(args.FirstOrDefault(a => a.NameEquals is null)?.Expression)
            : null;

        // The config attributes present on the class, in a fixed order (so the document order is stable).
        var configAttributes = new List<(AttributeData Data, string Name)>();
        foreach (var name in new[] { AttributeNames.VisionConfig, AttributeNames.QFormerConfig, AttributeNames.OptTextConfig, AttributeNames.T5TextConfig })
        {
            foreach (var data in type.GetAttributes())
            {
                if (data.AttributeClass?.ToDisplayString() == name) configAttributes.Add((data, name));
            }
        }
        // Beside a config path, Architecture names the class to build from it (a tower out of a full checkpoint, as
        // Blip2VisionModel.from_pretrained); without one it is the declared config's architectures, like the others.
        var architecture = configPath is null ? null
            : attribute.NamedArguments.FirstOrDefault(a => a.Key == "Architecture").Value.Value as string;
        var hasTopLevelValues = attribute.NamedArguments.Any(a => configPath is null || a.Key != "Architecture");

        ConfigDocument? declared = null;
        if (configPath is not null)
        {
            if (configAttributes.Count > 0 || hasTopLevelValues)
            {
                var extra = configAttributes.Count > 0 ? "[" + Short(configAttributes[0].Name) + "]" : "the values set on [Blip2Model]";
                diagnostics.Add(Conflict(type, attributeLocation,
                    "the configuration is given twice, by the config path '" + configPath + "' and by " + extra + "; use one or the other"));
            }
            else if (configPath.Trim().Length == 0)
            {
                diagnostics.Add(Conflict(type, configPathLocation ?? attributeLocation, "the config path is empty"));
            }
        }
        else if (configAttributes.Count == 0 && !hasTopLevelValues)
        {
            diagnostics.Add(Conflict(type, attributeLocation,
                "no configuration: give the path of the checkpoint's config.json, [Blip2Model(\"path/to/config.json\")], or declare it with [VisionConfig], [QFormerConfig] and [OptTextConfig] or [T5TextConfig]"));
        }
        else if (configAttributes.Any(a => a.Name == AttributeNames.OptTextConfig) && configAttributes.Any(a => a.Name == AttributeNames.T5TextConfig))
        {
            diagnostics.Add(Conflict(type, attributeLocation, "a model has one language model: use [OptTextConfig] or [T5TextConfig], not both"));
        }
        else
        {
            var entries = new List<ConfigEntry>();
            entries.AddRange(AttributeConfigReader.Read(attribute, "", cancellationToken));
            foreach (var (data, name) in configAttributes)
            {
                entries.AddRange(AttributeConfigReader.Read(data, AttributeConfigReader.Sections[name], cancellationToken));
            }
            declared = new ConfigDocument(sourcePath, entries.ToEquatableArray());
        }

        return new ModelRequest(
            ns, type.Name, AccessibilityKeyword(type.DeclaredAccessibility), sourcePath, attributeLocation,
            configPath, configPathLocation, declared, diagnostics.ToEquatableArray(), architecture);
    }

    private static List<string> ClassProblems(INamedTypeSymbol type, ClassDeclarationSyntax declaration)
    {
        var problems = new List<string>();
        if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword)) problems.Add("partial");
        if (type.ContainingType is not null) problems.Add("top-level (not nested in '" + type.ContainingType.Name + "')");
        if (type.IsGenericType) problems.Add("non-generic");
        if (type.IsStatic) problems.Add("non-static");
        if (declaration.Modifiers.Any(SyntaxKind.FileKeyword)) problems.Add("visible outside its file (not 'file')");
        return problems;
    }

    private static DiagnosticInfo Conflict(INamedTypeSymbol type, LocationInfo location, string reason) =>
        DiagnosticInfo.Create(DiagnosticDescriptors.ConfigSourceConflict, location, type.Name, reason);

    private static string Short(string metadataName)
    {
        var name = metadataName.Substring(metadataName.LastIndexOf('.') + 1);
        return name.EndsWith("Attribute") ? name.Substring(0, name.Length - "Attribute".Length) : name;
    }

    private static string AccessibilityKeyword(Accessibility accessibility) => accessibility switch
    {
        Accessibility.Public => "public",
        Accessibility.Private => "private",
        Accessibility.Protected => "protected",
        Accessibility.ProtectedOrInternal => "protected internal",
        Accessibility.ProtectedAndInternal => "private protected",
        _ => "internal",
    };
}
