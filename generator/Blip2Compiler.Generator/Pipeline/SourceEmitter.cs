using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using System.Text;

namespace Blip2Compiler.Generator.Pipeline;

/// <summary>Pipeline output: adds the generated files and reports the diagnostics of one model.</summary>
internal static class SourceEmitter
{
    public static void Emit(SourceProductionContext context, CompiledModel compiled)
    {
        foreach (var diagnostic in compiled.Diagnostics) context.ReportDiagnostic(diagnostic.ToDiagnostic());
        foreach (var file in compiled.Files) context.AddSource(file.HintName, SourceText.From(file.Source, Encoding.UTF8));
    }
}
