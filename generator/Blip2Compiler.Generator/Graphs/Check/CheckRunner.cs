using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Check
{
    /// <summary>
    /// Stage 3, Check: runs the <c>check</c> lines of every block the selected root instantiates for this config,
    /// parents first, so what the reference would reject at run time (or silently mis-compute) is a diagnostic
    /// located at the offending config value. A block whose check fails is not walked further: its children's sizes
    /// come from what it guards. The diagnostic follows the condition's shape:
    /// <list type="bullet">
    /// <item><c>a % b == 0</c> → BLIP2010 (not divisible), at a;</item>
    /// <item><c>a == b</c> → BLIP2013 (inconsistent sizes), at a;</item>
    /// <item><c>a > 0</c> → BLIP2015 "must be positive", at a;</item>
    /// <item>anything else → BLIP2015 with the check's message, at the first config value it reads.</item>
    /// </list>
    /// </summary>
    internal sealed class CheckRunner
    {
        private readonly Dictionary<string, BlockSyntax> _blocks = new Dictionary<string, BlockSyntax>();
        private readonly ConfigView _config;
        private readonly LocationInfo _fallback;
        private readonly List<DiagnosticInfo> _found = new List<DiagnosticInfo>();
        private readonly HashSet<DiagnosticInfo> _seen = new HashSet<DiagnosticInfo>();

        private CheckRunner(IEnumerable<GraphFile> graphs, ConfigView config, LocationInfo fallback)
        {
            foreach (var g in graphs) foreach (var b in g.Blocks) _blocks[b.Name] = b;
            _config = config;
            _fallback = fallback;
        }

        public static List<DiagnosticInfo> Run(IEnumerable<GraphFile> graphs, BlockSyntax root, ConfigView config, LocationInfo fallback)
        {
            var runner = new CheckRunner(graphs, config, fallback);
            runner.Walk(root, new Dictionary<string, ConstValue>());
            return runner._found;
        }

        private void Walk(BlockSyntax block, Dictionary<string, ConstValue> args)
        {
            var scope = new BlockScope(_config, block, args);
            bool passed = true;
            foreach (var check in block.Checks)
                foreach (var condition in check.Conditions)
                {
                    // The conditions of one line are in order: `heads > 0, dim % heads == 0` stops at the first.
                    if (!Holds(condition, check, scope)) { passed = false; break; }
                }
            if (!passed) return;

            foreach (var member in block.Members.Where(m => m.Kind == MemberKind.Module || m.Kind == MemberKind.Stack))
            {
                try
                {
                    if (member.When is not null && !scope.Eval(member.When).AsBool) continue;
                    if (!_blocks.TryGetValue(member.BlockName!, out var child)) continue; // the Bind stage reports it
                    var childArgs = member.BlockArgs.ToDictionary(a => a.Name, a => scope.Eval(a.Value));
                    if (member.Kind == MemberKind.Module) { Walk(child, childArgs); continue; }
                    var count = scope.Eval(member.Options["count"]).AsInt;
                    for (long i = 0; i < count; i++)
                        Walk(child, new Dictionary<string, ConstValue>(childArgs) { ["index"] = ConstValue.Of(i) });
                }
                catch (BindException e) { Report(e.ToDiagnostic(_config.Document, _fallback, block.Name)); }
            }
        }

        private bool Holds(Expr condition, CheckSyntax check, BlockScope scope)
        {
            try
            {
                if (scope.Eval(condition).AsBool) return true;
                Report(Failure(condition, check, scope));
            }
            catch (BindException e) { Report(e.ToDiagnostic(_config.Document, _fallback, scope.Block.Name)); }
            return false;
        }

        private DiagnosticInfo Failure(Expr condition, CheckSyntax check, BlockScope scope)
        {
            string Value(Expr e) => scope.Eval(e).ToConfigText();
            string Name(Expr e) => scope.PathOf(e) ?? ExprText.Of(e);
            LocationInfo At(Expr e) => (scope.PathOf(e) is { } path ? _config.Document.Find(path)?.Location : null) ?? _fallback;
            string Why() => check.Message is null ? "" : " (" + check.Message + ")";

            switch (condition)
            {
                case BinaryExpr { Op: "==", Left: BinaryExpr { Op: "%" } mod, Right: NumberExpr { Text: "0" } }:
                    return DiagnosticInfo.Create(DiagnosticDescriptors.NotDivisible, At(mod.Left), Name(mod.Left), Value(mod.Left), Name(mod.Right), Value(mod.Right) + Why());
                case BinaryExpr { Op: "==" } eq:
                    return DiagnosticInfo.Create(DiagnosticDescriptors.InconsistentSizes, At(eq.Left),
                        Name(eq.Left) + " " + Value(eq.Left) + " differs from " + Name(eq.Right) + " " + Value(eq.Right) + Why());
                case BinaryExpr { Op: ">", Right: NumberExpr { Text: "0" } } positive:
                    return DiagnosticInfo.Create(DiagnosticDescriptors.InvalidValue, At(positive.Left), Name(positive.Left), Value(positive.Left), check.Message ?? "must be positive");
                default:
                    var read = FirstConfigName(condition, scope) ?? condition;
                    return DiagnosticInfo.Create(DiagnosticDescriptors.InvalidValue, At(read), Name(read), Value(read), check.Message ?? "must satisfy " + ExprText.Of(condition));
            }
        }

        private static Expr? FirstConfigName(Expr e, BlockScope scope) => e switch
        {
            NameExpr n when scope.PathOf(n) is not null => n,
            UnaryExpr u => FirstConfigName(u.Operand, scope),
            BinaryExpr b => FirstConfigName(b.Left, scope) ?? FirstConfigName(b.Right, scope),
            InExpr i => FirstConfigName(i.Value, scope),
            _ => null,
        };

        private void Report(DiagnosticInfo d) { if (_seen.Add(d)) _found.Add(d); }
    }
}
