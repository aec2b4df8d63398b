using System.Linq;

namespace Blip2Compiler.Generator.Graphs.Syntax
{
    /// <summary>An expression written back as graph text, for messages (`must satisfy cfg.do_layer_norm_before`).</summary>
    internal static class ExprText
    {
        public static string Of(Expr e) => e switch
        {
            NumberExpr n => n.Text,
            StringExpr s => "\"" + s.Value + "\"",
            NameExpr n => n.Name,
            UnaryExpr { Op: "not" } u => "not " + Of(u.Operand),
            UnaryExpr u => u.Op + Of(u.Operand),
            BinaryExpr b => Of(b.Left) + " " + b.Op + " " + Of(b.Right),
            CallExpr c => c.Callee + "(" + string.Join(", ", c.Args.Select(Of).Concat(c.Named.Select(p => p.Name + " = " + Of(p.Value)))) + ")",
            InExpr i => Of(i.Value) + " in [" + string.Join(", ", i.Items.Select(Of)) + "]",
            ConditionalExpr c => Of(c.Then) + " if " + Of(c.Condition) + " else " + Of(c.Else),
            ConstExpr c => c.Value.ToString(),
            _ => e.GetType().Name,
        };
    }
}
