using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Select
{
    /// <summary>
    /// Stage 2, Select: the root a config compiles to, from the roots' own <c>select when ...</c> lines (models.graph).
    /// Exactly one root may serve a config. When none does, the diagnostic names what the roots would take: a
    /// root's condition starts with the architectures it serves (BLIP2014 when no root serves the config's), and the
    /// conditions after it say what else it needs (BLIP2012, e.g. text_config.model_type 'llama': 'opt' or 't5').
    /// </summary>
    internal static class RootSelector
    {
        public static BlockSyntax? Select(IReadOnlyList<GraphFile> files, ConfigDocument document, LocationInfo fallback, List<DiagnosticInfo> diagnostics)
        {
            // A view of its own: what selection reads is not what the model was compiled with (ModelInfo.Config).
            var view = new ConfigView(document, files.SelectMany(f => f.Configs));
            var roots = files.SelectMany(f => f.Blocks).Where(b => b.IsRoot).ToList();
            LocationInfo At(string? path) => (path is null ? null : document.Find(path)?.Location) ?? fallback;

            var candidates = new List<Candidate>();
            try
            {
                foreach (var root in roots)
                    foreach (var select in root.Selects)
                        candidates.Add(new Candidate(root, select, Conjuncts(select.When).Select(c => Test(c, root, view)).ToList()));
            }
            catch (BindException e)
            {
                diagnostics.Add(e.ToDiagnostic(document, fallback, "models.graph"));
                return null;
            }

            var matches = candidates.Where(c => c.Tests.All(t => t.Holds)).Select(c => c.Root).Distinct().ToList();
            if (matches.Count == 1) return matches[0];
            if (matches.Count > 1)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.GraphError, fallback, Where(matches[1].Span),
                    "the config is served by more than one root (" + string.Join(", ", matches.Select(m => m.Name)) + "): their 'select when' conditions must exclude each other"));
                return null;
            }

            var serving = candidates.Where(c => c.Tests[0].Holds).ToList();
            if (serving.Count == 0)
            {
                var first = candidates.Select(c => c.Tests[0]).FirstOrDefault(t => t.Path is not null);
                if (first is null) { diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.GraphError, fallback, "models.graph", "no root serves this config")); return null; }
                var served = candidates.Select(c => c.Tests[0]).Where(t => t.Path == first.Path).SelectMany(t => t.Accepted);
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedArchitecture, At(first.Path), Text(first.Value), Alternatives(served)));
                return null;
            }
            var failing = serving.Select(c => c.Tests.First(t => !t.Holds)).FirstOrDefault(t => t.Path is not null);
            if (failing is null) { diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.GraphError, fallback, Where(serving[0].Select.Span), "no root serves this config")); return null; }
            var expected = serving.SelectMany(c => c.Tests).Where(t => t.Path == failing.Path).SelectMany(t => t.Accepted);
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedModelKind, At(failing.Path), Text(failing.Value), failing.Path!, Alternatives(expected)));
            return null;
        }

        private sealed record Candidate(BlockSyntax Root, SelectSyntax Select, List<ConjunctTest> Tests);

        /// <summary>One condition of a select line: whether it holds, and (for `field == x`, `field in [...]`) the field and what it accepts.</summary>
        private sealed record ConjunctTest(bool Holds, string? Path, ConstValue? Value, IReadOnlyList<ConstValue> Accepted);

        private static IEnumerable<Expr> Conjuncts(Expr e) =>
            e is BinaryExpr { Op: "and" } b ? Conjuncts(b.Left).Concat(Conjuncts(b.Right)) : new[] { e };

        private static ConjunctTest Test(Expr conjunct, BlockSyntax root, ConfigView view)
        {
            // The root's own scope resolves `cfg.x` (its schema) and `text.model_type` (another), as in its blocks.
            var scope = new BlockScope(view, root, new Dictionary<string, ConstValue>());
            var holds = scope.Eval(conjunct).AsBool;
            var (field, accepted) = conjunct switch
            {
                BinaryExpr { Op: "==", Left: NameExpr n } b => (n, new[] { b.Right }),
                InExpr { Value: NameExpr n } i => (n, i.Items.ToArray()),
                _ => ((NameExpr?)null, System.Array.Empty<Expr>()),
            };
            var path = field is null ? null : scope.PathOf(field);
            if (path is null) return new ConjunctTest(holds, null, null, System.Array.Empty<ConstValue>());
            return new ConjunctTest(holds, path, scope.Eval(field!), accepted.Select(scope.Eval).Where(v => !v.IsNone).ToList());
        }

        private static string Where(GraphSpan span) => System.IO.Path.GetFileName(span.File) + ":" + span.Line;

        private static string Text(ConstValue? v) => v?.ToConfigText() ?? "null";

        private static string Alternatives(IEnumerable<ConstValue> values)
        {
            var names = values.Select(v => "'" + Text(v) + "'").Distinct().ToList();
            return names.Count <= 1 ? string.Concat(names) : string.Join(", ", names.Take(names.Count - 1)) + " or " + names[names.Count - 1];
        }
    }
}
