using System;
using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Fuse
{
    /// <summary>
    /// Fusion pass, after <see cref="FuseHeadSplits"/>: an attention whose scale is not the default 1/√head_dim (T5's is
    /// 1) would multiply its queries by scale·√head_dim on every call. When the queries come straight from a linear
    /// (alone, or the first part of a fused projection) that feeds nothing else, the factor moves into that linear's
    /// weights at load (the key map's scales) and the attention keeps the default: one op fewer per attention and step.
    /// For T5 the factor is √64 = 8, a power of two, so the folded weights give exactly the same products.
    /// </summary>
    internal static class FoldAttentionScale
    {
        public static void Apply(IrClass cls)
        {
            foreach (var forward in cls.Forwards)
            {
                forward.Body = ExprRewriter.RewriteBody(forward.Body, e =>
                {
                    if (!(e is CallExpr { Callee: "attention" } call) || call.Args.Count < 1 || !(call.Args[0] is NameExpr q)) return e;
                    var named = call.Named.FirstOrDefault(n => n.Name == "scale");
                    if (!(named.Value is ConstExpr { Value: { IsNumber: true } } scaleExpr)) return e;
                    if (!(QueryProjection(cls, forward.Body, q.Name) is { } source)) return e;

                    var defaultScale = 1.0 / Math.Sqrt(source.HeadDim);
                    var ratio = scaleExpr.Value.AsDouble / defaultScale;
                    if (Math.Abs(ratio - 1.0) < 1e-12) return e;
                    source.Member.OutputScale *= ratio;
                    cls.AppliedFusions.Add("attention scale folded into " + source.Member.Name + " (× " + ConstValue.FormatDouble(ratio) + " at load)");
                    var named2 = call.Named.Select(n => n.Name == "scale" ? (n.Name, (Expr)new ConstExpr(n.Value.Span, ConstValue.Of(defaultScale))) : n).ToList();
                    return new CallExpr(call.Span, call.Callee, call.Args, named2);
                });
            }
        }

        /// <summary>
        /// The linear whose output alone makes <paramref name="q"/>, with the head size: `q = split_heads(lin(x), h)`
        /// or `q, k, v = split_heads_fused(fused(x), h)` (then its first part). Null when q is made any other way, is
        /// assigned twice, or the linear is called elsewhere.
        /// </summary>
        private static (IrMember Member, long HeadDim)? QueryProjection(IrClass cls, List<Statement> body, string q)
        {
            var assignments = body.OfType<AssignStatement>().Where(a => a.Targets.Contains(q)).ToList();
            if (assignments.Count != 1 || assignments[0].When is not null) return null;
            var a = assignments[0];
            if (!(a.Value is CallExpr split) || split.Args.Count != 2 || !(split.Args[1] is ConstExpr { Value: { IsInt: true } } heads)
                || !(split.Args[0] is CallExpr { Args.Count: 1, Named.Count: 0 } linearCall)
                || !(cls.FindMember(linearCall.Callee) is { Kind: MemberKind.Linear } linear))
                return null;
            if (cls.Forwards.SelectMany(f => f.Body).SelectMany(ExprRewriter.Roots).SelectMany(r => ExprRewriter.Calls(r)).Count(c => c.Callee == linear.Name) != 1)
                return null;

            if (split.Callee == "split_heads" && a.Targets.Count == 1 && linear.FusedFrom is null)
                return (linear, linear.Dims[1] / heads.Value.AsInt);
            if (split.Callee == "split_heads_fused" && a.Targets.Count == 3 && a.Targets[0] == q && linear.FusedFrom is { Count: 3 } parts)
                return (parts[0], parts[0].Dims[1] / heads.Value.AsInt);
            return null;
        }
    }
}
