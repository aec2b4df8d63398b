using System.Collections.Generic;
using System.Linq;

namespace Blip2Compiler.Generator.Graphs.Syntax
{
    /// <summary>The names an expression reads (`x`, `cfg.hidden_size`, `true`), in order, with repeats.</summary>
    internal static class ExprNames
    {
        public static IEnumerable<string> Of(Expr e) => e switch
        {
            NameExpr n => new[] { n.Name },
            CallExpr c => c.Args.SelectMany(Of).Concat(c.Named.SelectMany(x => Of(x.Value))),
            BinaryExpr b => Of(b.Left).Concat(Of(b.Right)),
            UnaryExpr u => Of(u.Operand),
            InExpr i => Of(i.Value).Concat(i.Items.SelectMany(Of)),
            ConditionalExpr c => Of(c.Condition).Concat(Of(c.Then)).Concat(Of(c.Else)),
            _ => System.Array.Empty<string>(),
        };
    }
}
