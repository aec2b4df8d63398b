using System;
using System.Linq;
using System.Threading;
using System.Collections.Generic;
using Blip2Compiler.Generator.Graphs;
using Blip2Compiler.Generator.Graphs.Parse;
using Blip2Compiler.Generator.Graphs.Syntax;
using Blip2Compiler.Generator.Declaration;

namespace Blip2Compiler.Generator.Pipeline;

/// <summary>
/// Pipeline step CompiledModels: runs the graph compiler on a resolved model. A bug in the generator must never take the build down with
/// a crash (the compiler would report a bare warning and drop every generated file), so any exception becomes
/// BLIP2099 on the attribute.
/// </summary>
internal static class CompileStep
{
    public static CompiledModel Compile((ResolvedModel Resolved, EquatableArray<GraphSource> UserGraphs) input, CancellationToken cancellationToken) =>
        Compile(input.Resolved, model => GraphCompiler.Compile(model, () => WithUserGraphs(input.UserGraphs)), cancellationToken);

    /// <summary>The embedded graphs followed by the project's own (a parse error is BLIP2020 at its line).</summary>
    private static IReadOnlyList<GraphFile> WithUserGraphs(EquatableArray<GraphSource> userGraphs)
    {
        if (userGraphs.IsEmpty) return GraphLibrary.Load();
        return GraphLibrary.Load().Concat(userGraphs.Select(g => GraphParser.Parse(g.Path, g.Text))).ToList();
    }

    /// <summary>With the compiler passed in, so tests can check what happens when it throws.</summary>
    internal static CompiledModel Compile(ResolvedModel resolved, Func<ModelDeclaration, CompileResult> compile, CancellationToken cancellationToken)
    {
        if (resolved.Model is null) return new CompiledModel(EquatableArray<GeneratedFile>.Empty, resolved.Diagnostics);
        var model = resolved.Model;
        try
        {
            var result = compile(model);
            var prefix = HintPrefix(model);
            var files = result.Files.Select(f => new GeneratedFile(prefix + f.HintName + ".g.cs", f.Source)).ToEquatableArray();
            return new CompiledModel(files, result.Diagnostics);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            var error = DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, model.AttributeLocation, resolved.DisplayName, e.GetType().Name + ": " + e.Message);
            return new CompiledModel(EquatableArray<GeneratedFile>.Empty, EquatableArray.Create(error));
        }
    }

    /// <summary>"Blip2Opt." or, in a namespace, "MyApp.Models.Blip2Opt.": two models of the same name in different namespaces must not collide.</summary>
    public static string HintPrefix(ModelDeclaration model) =>
        (model.Namespace.Length == 0 ? "" : model.Namespace + ".") + model.ClassName + ".";
}
