using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Check;
using Blip2Compiler.Generator.Graphs.Emit;
using Blip2Compiler.Generator.Graphs.Fuse;
using Blip2Compiler.Generator.Graphs.Parse;
using Blip2Compiler.Generator.Graphs.Select;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs
{
    /// <summary>
    /// The compiler, stage by stage: Parse (graphs) → Select (the root) → Check (config) → Bind (IR) → Fuse → Emit.
    /// Each stage is a separate type with its own tests; this only wires them.
    /// </summary>
    internal static class GraphCompiler
    {
        public static CompileResult Compile(ModelDeclaration model) => Compile(model, GraphLibrary.Load);

        internal static CompileResult Compile(ModelDeclaration model, System.Func<IReadOnlyList<GraphFile>> graphs)
        {
            var diagnostics = new List<DiagnosticInfo>();

            IReadOnlyList<GraphFile> files;
            try { files = graphs(); }
            catch (GraphException e) { return Fail(DiagnosticInfo.Create(DiagnosticDescriptors.GraphError, model.AttributeLocation, e.File + ":" + e.Line, e.Message)); }

            // An Architecture given beside the config path picks the class as the config's own architectures would
            // (selection only: the model is compiled from, and compared with, the file as it is).
            var selecting = model.Architecture is null ? model.Config : model.Config with
            {
                Entries = model.Config.Entries.Where(e => e.Path != "architectures")
                    .Append(new ConfigEntry("architectures", ConfigKind.Array, "[\"" + model.Architecture + "\"]",
                        EquatableArray.Create(model.Architecture), model.AttributeLocation)).ToEquatableArray(),
            };
            var root = RootSelector.Select(files, selecting, model.AttributeLocation, diagnostics);
            if (root is null) return Fail(diagnostics.ToArray());

            var config = new ConfigView(model.Config, files.SelectMany(f => f.Configs));
            diagnostics.AddRange(CheckRunner.Run(files, root, config, model.AttributeLocation));
            if (diagnostics.Count > 0) return Fail(diagnostics.ToArray());

            IrModel ir;
            try { ir = new Binder(files, config).Bind(model, root.Name); }
            catch (BindException e) { return Fail(e.ToDiagnostic(model.Config, model.AttributeLocation, root.Name)); }

            foreach (var cls in ir.Classes) FusionPasses.Run(cls);

            try
            {
                var emitted = ModelEmitter.Emit(ir);
                return new CompileResult(new EquatableArray<GeneratedFile>(emitted.ToImmutableArray()), default);
            }
            catch (GraphError e) { return Fail(DiagnosticInfo.Create(DiagnosticDescriptors.GraphError, model.AttributeLocation, root.Name, e.Message)); }
        }

        private static CompileResult Fail(params DiagnosticInfo[] diagnostics) =>
            new CompileResult(default, new EquatableArray<DiagnosticInfo>(diagnostics.ToImmutableArray()));
    }
}
