using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Fuse
{
    /// <summary>
    /// Fusion pass: linears that read the same input (q/k/v of self-attention, k/v of cross-attention) become one
    /// linear whose weight is their concatenation, filled at load time by the key map. One GEMM instead of three,
    /// and the input is read once. The outputs are views of the fused result.
    /// </summary>
    internal static class FuseProjections
    {
        public static void Apply(IrClass cls)
        {
            foreach (var forward in cls.Forwards)
            {
                var calls = new List<(int Statement, string Member, string Input)>();
                for (int i = 0; i < forward.Body.Count; i++)
                    foreach (var root in ExprRewriter.Roots(forward.Body[i]))
                        foreach (var c in ExprRewriter.Calls(root, skip: x => x.Callee == "memo"))
                            if (c.Args.Count == 1 && c.Named.Count == 0 && c.Args[0] is NameExpr input && cls.FindMember(c.Callee) is { Kind: MemberKind.Linear, FusedFrom: null })
                                calls.Add((i, c.Callee, input.Name));

                foreach (var group in calls.GroupBy(c => c.Input))
                {
                    var members = group.Select(g => g.Member).Distinct().Select(n => cls.FindMember(n)!).ToList();
                    if (members.Count < 2) continue;
                    // Same input width and bias; each used once, only in this forward; input not reassigned meanwhile.
                    if (members.Any(m => m.Dims[0] != members[0].Dims[0] || m.Bias != members[0].Bias)) continue;
                    if (members.Any(m => group.Count(g => g.Member == m.Name) != 1)) continue;
                    if (cls.Forwards.Any(f => f != forward && f.Body.SelectMany(ExprRewriter.Roots).SelectMany(r => ExprRewriter.Calls(r)).Any(c => members.Any(m => m.Name == c.Callee)))) continue;
                    int first = group.Min(g => g.Statement), last = group.Max(g => g.Statement);
                    if (Reassigns(forward.Body, group.Key, first, last)) continue;

                    var fused = new IrMember
                    {
                        Kind = MemberKind.Linear,
                        Name = FreeName(cls, FusedName(members.Select(m => m.Name).ToList())),
                        Dims = new[] { members[0].Dims[0], members.Sum(m => m.Dims[1]) },
                        Bias = members[0].Bias,
                        Span = members[0].Span,
                        Float32 = members[0].Float32,
                        FusedFrom = members,
                    };
                    var index = cls.Members.IndexOf(members[0]);
                    foreach (var m in members) cls.Members.Remove(m);
                    cls.Members.Insert(index, fused);

                    var outputs = members.Select(m => m.Name + "_out").ToList();
                    var split = new AssignStatement(forward.Span, outputs,
                        new CallExpr(forward.Span, "split_last",
                            new List<Expr> { new CallExpr(forward.Span, fused.Name, new List<Expr> { new NameExpr(forward.Span, group.Key) }, new List<(string, Expr)>()) }
                                .Concat(members.Select(m => (Expr)new ConstExpr(forward.Span, ConstValue.Of(m.Dims[1])))).ToList(),
                            new List<(string, Expr)>()),
                        null);
                    var body = ExprRewriter.RewriteBody(forward.Body, e =>
                        e is CallExpr c && c.Args.Count == 1 && c.Args[0] is NameExpr n && n.Name == group.Key && members.Any(m => m.Name == c.Callee)
                            ? new NameExpr(c.Span, c.Callee + "_out")
                            : e);
                    body.Insert(first, split);
                    forward.Body = body;
                    cls.AppliedFusions.Add("fused projection " + fused.Name + " = " + string.Join(" + ", members.Select(m => m.Name)));
                    Apply(cls); // indices moved: look again for further groups
                    return;
                }
            }
        }

        private static string FreeName(IrClass cls, string name)
        {
            while (cls.FindMember(name) is not null) name += "_fused";
            return name;
        }

        private static bool Reassigns(List<Statement> body, string name, int from, int to)
        {
            for (int i = from; i < to; i++)
                if (body[i] is AssignStatement a && a.Targets.Contains(name)) return true;
            return false;
        }

        /// <summary>q_proj,k_proj,v_proj → qkv_proj; query,key,value → query_key_value; q,k,v → qkv; wi_0,wi_1 → wi.</summary>
        internal static string FusedName(List<string> names)
        {
            var prefix = names[0].Contains("_") ? names[0].Substring(0, names[0].LastIndexOf('_') + 1) : "";
            if (prefix.Length > 1 && names.All(n => n.StartsWith(prefix, System.StringComparison.Ordinal)))
                return prefix.TrimEnd('_');
            var suffix = names[0].Contains("_") ? names[0].Substring(names[0].LastIndexOf('_')) : "";
            if (suffix.Length > 0 && names.All(n => n.EndsWith(suffix, System.StringComparison.Ordinal)))
            {
                var stems = names.Select(n => n.Substring(0, n.Length - suffix.Length)).ToList();
                if (stems.All(s => s.Length == 1)) return string.Concat(stems) + suffix;
            }
            if (names.All(n => n.Length == 1)) return string.Concat(names);
            return string.Join("_", names);
        }
    }
}
