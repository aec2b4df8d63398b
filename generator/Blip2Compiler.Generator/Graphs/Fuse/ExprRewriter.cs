using System;
using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Fuse
{
    /// <summary>Bottom-up rewriting of forward expressions, shared by the fusion passes.</summary>
    internal static class ExprRewriter
    {
        public static Expr Rewrite(Expr e, Func<Expr, Expr> rule)
        {
            switch (e)
            {
                case CallExpr c:
                    e = new CallExpr(c.Span, c.Callee, c.Args.Select(a => Rewrite(a, rule)).ToList(), c.Named.Select(n => (n.Name, Rewrite(n.Value, rule))).ToList());
                    break;
                case BinaryExpr b:
                    e = new BinaryExpr(b.Span, b.Op, Rewrite(b.Left, rule), Rewrite(b.Right, rule));
                    break;
                case UnaryExpr u:
                    e = new UnaryExpr(u.Span, u.Op, Rewrite(u.Operand, rule));
                    break;
            }
            return rule(e);
        }

        public static List<Statement> RewriteBody(List<Statement> body, Func<Expr, Expr> rule) => body.Select(s => RewriteStatement(s, rule)).ToList();

        private static Statement RewriteStatement(Statement s, Func<Expr, Expr> rule) => s switch
        {
            AssignStatement a => new AssignStatement(a.Span, a.Targets, Rewrite(a.Value, rule), null),
            CallStatement c => new CallStatement(c.Span, Rewrite(c.Call, rule), null),
            ReturnStatement r => new ReturnStatement(r.Span, r.Values.Select(v => Rewrite(v, rule)).ToList(), null),
            ForStatement f => new ForStatement(f.Span, f.Variable, f.Stack, RewriteBody(f.Body.ToList(), rule)),
            _ => s,
        };

        /// <summary>Every call in an expression, outermost first (skipping what `skip` rejects and everything under it).</summary>
        public static IEnumerable<CallExpr> Calls(Expr e, Func<CallExpr, bool>? skip = null)
        {
            switch (e)
            {
                case CallExpr c:
                    if (skip is not null && skip(c)) yield break;
                    yield return c;
                    foreach (var a in c.Args) foreach (var x in Calls(a, skip)) yield return x;
                    foreach (var n in c.Named) foreach (var x in Calls(n.Value, skip)) yield return x;
                    break;
                case BinaryExpr b:
                    foreach (var x in Calls(b.Left, skip)) yield return x;
                    foreach (var x in Calls(b.Right, skip)) yield return x;
                    break;
                case UnaryExpr u:
                    foreach (var x in Calls(u.Operand, skip)) yield return x;
                    break;
            }
        }

        public static IEnumerable<Expr> Roots(Statement s) => s switch
        {
            AssignStatement a => new[] { a.Value },
            CallStatement c => new[] { c.Call },
            ReturnStatement r => r.Values,
            _ => Array.Empty<Expr>(),
        };
    }
}
