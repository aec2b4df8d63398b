using System.Collections.Immutable;
using System.Linq;
using System.Threading;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>
/// Declaration step ResolvedModels: joins a located request with its parsed config file (or its attribute-declared values) into a
/// <see cref="ModelDeclaration"/>, with the file's syntax errors and wrong-type values as diagnostics.
/// </summary>
internal static class ModelResolver
{
    public static ResolvedModel Resolve((LocatedRequest Located, ImmutableArray<ParsedConfigFile> Files) input, CancellationToken _)
    {
        var (located, files) = input;
        var request = located.Request;
        if (!located.Diagnostics.IsEmpty) return Fail(request, located.Diagnostics);

        ConfigDocument config;
        if (request.DeclaredConfig is not null)
        {
            config = request.DeclaredConfig;
        }
        else
        {
            var file = files.FirstOrDefault(f => f.Path == located.ConfigFile);
            if (file is null)
            {
                // The file was matched by path but not read: it disappeared between the two steps.
                var missing = DiagnosticInfo.Create(DiagnosticDescriptors.ConfigFileNotFound, request.ConfigPathLocation ?? request.AttributeLocation, request.ConfigPath ?? "", request.DisplayName);
                return Fail(request, EquatableArray.Create(missing));
            }
            if (file.Error is not null) return Fail(request, EquatableArray.Create(file.Error));
            config = file.Document!;

            var typeErrors = ConfigTypeChecker.Check(config).ToEquatableArray();
            if (!typeErrors.IsEmpty) return Fail(request, typeErrors);
        }

        var model = new ModelDeclaration(request.Namespace, request.ClassName, request.Accessibility, config, request.AttributeLocation, request.Architecture);
        return new ResolvedModel(request.DisplayName, model, EquatableArray<DiagnosticInfo>.Empty);
    }

    private static ResolvedModel Fail(ModelRequest request, EquatableArray<DiagnosticInfo> diagnostics) =>
        new(request.DisplayName, null, diagnostics);
}
