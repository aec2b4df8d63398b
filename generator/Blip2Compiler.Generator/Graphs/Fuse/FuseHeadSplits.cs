using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Fuse
{
    /// <summary>
    /// Fusion pass, after <see cref="FuseProjections"/>: a fused projection split into equal parts, each part then split
    /// into heads by the statement right after, becomes one head split of the whole output:
    ///
    ///     q_out, k_out, v_out = split_last(qkv(x), d, d, d)        q, k, v = split_heads_fused(qkv(x), heads)
    ///     q = split_heads(q_out, heads)                      →
    ///     k = split_heads(k_out, heads)
    ///     v = split_heads(v_out, heads)
    ///
    /// Three libtorch calls (unflatten, permute, unbind) instead of seven (a split and two view calls per part), which
    /// counts on a GPU, where a decoding step is bound by the number of calls, not by the work.
    /// </summary>
    internal static class FuseHeadSplits
    {
        public static void Apply(IrClass cls)
        {
            foreach (var forward in cls.Forwards)
            {
                var body = forward.Body;
                for (int i = 0; i < body.Count; i++)
                {
                    if (!(body[i] is AssignStatement { When: null } split) || !(split.Value is CallExpr { Callee: "split_last" } call)) continue;
                    var parts = split.Targets;
                    if (parts.Count < 2 || parts.Count > 3) continue;
                    if (call.Args.Skip(1).Select(a => (a as ConstExpr)?.Value).Distinct().Count() != 1) continue;

                    var heads = HeadSplits(body, i + 1, parts);
                    if (heads is null) continue;
                    var (targets, headCount) = heads.Value;
                    // The parts must have no other reader: they disappear.
                    if (parts.Any(p => Reads(body, p) != 1)) continue;

                    var fused = new AssignStatement(split.Span, targets,
                        new CallExpr(call.Span, parts.Count == 3 ? "split_heads_fused" : "split_heads_fused_pair",
                            new List<Expr> { call.Args[0], headCount }, new List<(string, Expr)>()),
                        null);
                    body.RemoveRange(i, parts.Count + 1);
                    body.Insert(i, fused);
                    cls.AppliedFusions.Add("head split of the fused projection into " + string.Join(", ", targets));
                }
            }
        }

        /// <summary>
        /// The statements after the split when they are exactly `target = split_heads(part, heads)`, one per part in
        /// the split's order, with the same head count: their targets and that count.
        /// </summary>
        private static (List<string> Targets, Expr Heads)? HeadSplits(List<Statement> body, int from, IReadOnlyList<string> parts)
        {
            if (from + parts.Count > body.Count) return null;
            var targets = new List<string>();
            Expr? heads = null;
            for (int j = 0; j < parts.Count; j++)
            {
                if (!(body[from + j] is AssignStatement { When: null, Targets.Count: 1 } a)
                    || !(a.Value is CallExpr { Callee: "split_heads", Args.Count: 2, Named.Count: 0 } c)
                    || !(c.Args[0] is NameExpr n) || n.Name != parts[j]
                    || !(c.Args[1] is ConstExpr h) || (heads is ConstExpr seen && !Equals(seen.Value, h.Value)))
                    return null;
                heads ??= h;
                targets.Add(a.Targets[0]);
            }
            // A target that is also a part or read by a later head split would change meaning when assigned earlier.
            if (targets.Distinct().Count() != targets.Count || targets.Any(parts.Contains)) return null;
            return (targets, heads!);
        }

        private static int Reads(IEnumerable<Statement> body, string name) => body.Sum(s =>
            (s is ForStatement f ? Reads(f.Body, name) : ExprRewriter.Roots(s).SelectMany(ExprNames.Of).Count(n => n == name))
            + (s.When is null ? 0 : ExprNames.Of(s.When).Count(n => n == name)));
    }
}
