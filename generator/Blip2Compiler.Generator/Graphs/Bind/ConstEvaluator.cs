using System;
using System.Collections.Generic;
using System.Globalization;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Bind
{
    /// <summary>Evaluates compile-time expressions: arithmetic on config values and `let`s (Python semantics for / and //).</summary>
    internal static class ConstEvaluator
    {
        public static ConstValue Evaluate(Expr expr, Func<string, ConstValue?> lookup)
        {
            switch (expr)
            {
                case NumberExpr n:
                    if (n.Text.IndexOf('.') < 0 && n.Text.IndexOf('e') < 0 && n.Text.IndexOf('E') < 0)
                        return ConstValue.Of(long.Parse(n.Text, CultureInfo.InvariantCulture));
                    return ConstValue.Of(double.Parse(n.Text, CultureInfo.InvariantCulture));
                case StringExpr s:
                    return ConstValue.Of(s.Value);
                case NameExpr name:
                    switch (name.Name)
                    {
                        case "true": return ConstValue.Of(true);
                        case "false": return ConstValue.Of(false);
                        case "none": return ConstValue.None;
                    }
                    return lookup(name.Name) ?? throw new BindException("unknown name '" + name.Name + "'");
                case UnaryExpr u:
                    var operand = Evaluate(u.Operand, lookup);
                    if (u.Op == "not") return ConstValue.Of(!operand.AsBool);
                    return operand.IsInt ? ConstValue.Of(-operand.AsInt) : ConstValue.Of(-operand.AsDouble);
                case BinaryExpr b:
                    return Binary(b.Op, Evaluate(b.Left, lookup), () => Evaluate(b.Right, lookup));
                case CallExpr call:
                    return Call(call, lookup);
                case InExpr i:
                    var value = Evaluate(i.Value, lookup);
                    foreach (var item in i.Items) if (Equal(value, Evaluate(item, lookup))) return ConstValue.Of(true);
                    return ConstValue.Of(false);
                case ConditionalExpr c:
                    return Evaluate(c.Condition, lookup).AsBool ? Evaluate(c.Then, lookup) : Evaluate(c.Else, lookup);
                default:
                    throw new BindException("not a compile-time expression");
            }
        }

        private static ConstValue Binary(string op, ConstValue left, Func<ConstValue> rightThunk)
        {
            if (op == "and") return left.AsBool ? ConstValue.Of(rightThunk().AsBool) : ConstValue.Of(false);
            if (op == "or") return left.AsBool ? ConstValue.Of(true) : ConstValue.Of(rightThunk().AsBool);
            var right = rightThunk();
            switch (op)
            {
                case "==": return ConstValue.Of(Equal(left, right));
                case "!=": return ConstValue.Of(!Equal(left, right));
                case "<": return ConstValue.Of(left.AsDouble < right.AsDouble);
                case ">": return ConstValue.Of(left.AsDouble > right.AsDouble);
                case "<=": return ConstValue.Of(left.AsDouble <= right.AsDouble);
                case ">=": return ConstValue.Of(left.AsDouble >= right.AsDouble);
            }
            bool ints = left.IsInt && right.IsInt;
            switch (op)
            {
                case "+": return ints ? ConstValue.Of(left.AsInt + right.AsInt) : ConstValue.Of(left.AsDouble + right.AsDouble);
                case "-": return ints ? ConstValue.Of(left.AsInt - right.AsInt) : ConstValue.Of(left.AsDouble - right.AsDouble);
                case "*": return ints ? ConstValue.Of(left.AsInt * right.AsInt) : ConstValue.Of(left.AsDouble * right.AsDouble);
                case "%":
                    if (right.AsInt == 0) throw new BindException("modulo by zero");
                    return ConstValue.Of(left.AsInt % right.AsInt);
                case "//":
                    if (right.AsDouble == 0) throw new BindException("division by zero");
                    return ints ? ConstValue.Of((long)Math.Floor((double)left.AsInt / right.AsInt)) : ConstValue.Of(Math.Floor(left.AsDouble / right.AsDouble));
                case "/":
                    if (right.AsDouble == 0) throw new BindException("division by zero");
                    // Shapes divide exactly; keep integers integral so `hidden / heads` stays a dimension.
                    if (ints && left.AsInt % right.AsInt == 0) return ConstValue.Of(left.AsInt / right.AsInt);
                    return ConstValue.Of(left.AsDouble / right.AsDouble);
                case "**": return ConstValue.Of(Math.Pow(left.AsDouble, right.AsDouble));
            }
            throw new BindException("unknown operator " + op);
        }

        internal static bool Equal(ConstValue a, ConstValue b)
        {
            if (a.IsNumber && b.IsNumber) return a.AsDouble == b.AsDouble;
            return Equals(a.Raw, b.Raw);
        }

        private static ConstValue Call(CallExpr call, Func<string, ConstValue?> lookup)
        {
            var args = new List<ConstValue>();
            foreach (var a in call.Args) args.Add(Evaluate(a, lookup));
            switch (call.Callee)
            {
                case "starts_with":
                    return ConstValue.Of(args[0].AsString.StartsWith(args[1].AsString, StringComparison.Ordinal));
                case "t5_activation":
                    // T5Config: feed_forward_proj "[gated-]ACT"; "gated-gelu" is the tanh approximation (gelu_new).
                    var proj = args[0].AsString;
                    if (proj == "gated-gelu") return ConstValue.Of("gelu_new");
                    var dash = proj.LastIndexOf('-');
                    return ConstValue.Of(dash >= 0 ? proj.Substring(dash + 1) : proj);
                case "max": return args[0].AsDouble >= args[1].AsDouble ? args[0] : args[1];
                case "min": return args[0].AsDouble <= args[1].AsDouble ? args[0] : args[1];
            }
            throw new BindException("unknown compile-time function '" + call.Callee + "'");
        }
    }
}
