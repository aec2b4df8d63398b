using System.Collections.Generic;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Fuse
{
    /// <summary>
    /// Fusion passes on a linear's epilogue:
    /// - `activation(linear(x), act)` → `linear_activation`: the bias rides in the GEMM (the linear's own kernel) and
    ///   ReLU/SiLU run in place on its output (Ops.LinearActivation through Ops.Apply), so no second activation-sized
    ///   tensor is allocated; the GELU forms still make their result (unfused they are the same calls);
    /// - `residual + linear(x)` → `linear_residual`: the GEMM with its bias, then the residual added in place on its
    ///   output (Ops.LinearResidual: linear + add_), two calls and one output tensor instead of a GEMM and a new sum.
    /// </summary>
    internal static class FuseEpilogues
    {
        public static void Apply(IrClass cls)
        {
            foreach (var forward in cls.Forwards)
            {
                forward.Body = ExprRewriter.RewriteBody(forward.Body, e =>
                {
                    if (e is CallExpr { Callee: "activation" } act && act.Args.Count == 2 && IsLinearCall(cls, act.Args[0], out var inner))
                    {
                        cls.AppliedFusions.Add("bias + activation in " + inner.Callee);
                        return new CallExpr(act.Span, "linear_activation", new List<Expr> { inner.Args[0], new NameExpr(act.Span, inner.Callee), act.Args[1] }, new List<(string, Expr)>());
                    }
                    if (e is BinaryExpr { Op: "+" } add)
                    {
                        if (IsLinearCall(cls, add.Right, out var right) && !IsLinearCall(cls, add.Left, out _))
                            return Residual(cls, right, add.Left);
                        if (IsLinearCall(cls, add.Left, out var left) && !IsLinearCall(cls, add.Right, out _))
                            return Residual(cls, left, add.Right);
                    }
                    return e;
                });
            }
        }

        private static Expr Residual(IrClass cls, CallExpr linear, Expr residual)
        {
            cls.AppliedFusions.Add("residual add into " + linear.Callee);
            return new CallExpr(linear.Span, "linear_residual", new List<Expr> { linear.Args[0], new NameExpr(linear.Span, linear.Callee), residual }, new List<(string, Expr)>());
        }

        private static bool IsLinearCall(IrClass cls, Expr e, out CallExpr call)
        {
            call = (e as CallExpr)!;
            return e is CallExpr c && c.Args.Count == 1 && c.Named.Count == 0 && cls.FindMember(c.Callee) is { Kind: MemberKind.Linear };
        }
    }
}
