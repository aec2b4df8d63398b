using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Emit
{
    /// <summary>
    /// Stage 6, Emit: one nested class per bound block. Fields are the block's members, shapes are constants,
    /// and each forward is the graph's wiring, statement for statement, with a comment naming its graph line.
    /// </summary>
    internal sealed class ClassEmitter
    {
        private readonly IrClass _cls;
        private HashSet<string> _locals = new HashSet<string>();

        private ClassEmitter(IrClass cls) { _cls = cls; }

        public static void EmitBody(IrClass cls, SourceWriter w)
        {
            var e = new ClassEmitter(cls);
            e.Members(w);
            e.Forwards(w);
        }

        public static string TypeOf(IrMember m) => m.Kind switch
        {
            MemberKind.Param => "Tensor",
            MemberKind.Linear => "Linear",
            MemberKind.LayerNorm => "LayerNorm",
            MemberKind.RmsNorm => "RmsNorm",
            MemberKind.Embedding => "Embedding",
            MemberKind.Conv2d => "Conv2d",
            MemberKind.Module => m.Child!.Name,
            _ => ElementType(m) + "[]",
        };

        public static string ElementType(IrMember m) => m.Children[0].Interface ?? m.Children[0].Name;

        private void Members(SourceWriter w)
        {
            foreach (var (name, value) in _cls.Constants)
                if (value.IsNumber || value.Raw is bool)
                    w.Line("public const " + (value.IsInt ? "long" : value.Raw is bool ? "bool" : "double") + " " + Names.Pascal(name) + " = " + value.ToCSharp() + ";");
            if (_cls.Constants.Count > 0) w.Line();

            foreach (var m in _cls.Members)
            {
                w.Line("/// <summary>" + Describe(m) + "</summary>");
                w.Line("public readonly " + TypeOf(m) + " " + Names.Pascal(m.Name) + ";");
            }
            w.Line();

            var ctorName = _cls.IsRoot ? null : _cls.Name;
            if (ctorName is not null)
            {
                w.Open("public " + ctorName + "(ParameterSet p, string prefix)");
                foreach (var m in _cls.Members) w.Line(Names.Pascal(m.Name) + " = " + Construct(m, "prefix + ") + ";");
                w.Close();
                w.Line();
            }
        }

        /// <summary>The constructor expression for one member; `prefix` is the C# prefix expression ("prefix + " or "").</summary>
        public static string Construct(IrMember m, string prefix)
        {
            var name = "\"" + m.Name;
            switch (m.Kind)
            {
                case MemberKind.Param: return "p.Take(" + prefix + name + "\")";
                case MemberKind.Linear: return "new Linear(p, " + prefix + name + ".\", bias: " + (m.Bias ? "true" : "false") + ")";
                case MemberKind.LayerNorm: return "new LayerNorm(p, " + prefix + name + ".\", eps: " + ConstValue.FormatDouble(m.Eps) + ")";
                case MemberKind.RmsNorm: return "new RmsNorm(p, " + prefix + name + ".\", eps: " + ConstValue.FormatDouble(m.Eps) + ")";
                case MemberKind.Embedding: return "new Embedding(p, " + prefix + name + ".\")";
                case MemberKind.Conv2d: return "new Conv2d(p, " + prefix + name + ".\", stride: " + m.Stride + ")";
                case MemberKind.Module: return "new " + m.Child!.Name + "(p, " + prefix + name + ".\")";
                default:
                    // A stack: one element per layer; variants (e.g. with cross-attention) share an interface.
                    var items = m.Children.Select((c, i) => "new " + c.Name + "(p, " + prefix + name + "." + i + ".\")");
                    if (m.Children.Distinct().Count() == 1)
                        return "Stack.Create<" + m.Children[0].Name + ">(" + m.Children.Count + ", i => new " + m.Children[0].Name + "(p, " + prefix + name + ".\" + i + \".\"))";
                    return "new " + ElementType(m) + "[] { " + string.Join(", ", items) + " }";
            }
        }

        private static string Describe(IrMember m)
        {
            string shape(long[] d) => "[" + string.Join(", ", d) + "]";
            var text = m.Kind switch
            {
                MemberKind.Param => m.Name + " " + shape(m.Dims),
                MemberKind.Linear => "linear " + m.Dims[0] + " → " + m.Dims[1] + (m.Bias ? "" : ", no bias") + (m.FusedFrom is null ? "" : " (fused: " + string.Join(" + ", m.FusedFrom.Select(f => f.Name)) + ")"),
                MemberKind.LayerNorm => "layer norm over " + m.Dims[0] + ", eps " + ConstValue.FormatDouble(m.Eps),
                MemberKind.RmsNorm => "RMS norm over " + m.Dims[0] + ", eps " + ConstValue.FormatDouble(m.Eps),
                MemberKind.Embedding => "embedding " + m.Dims[0] + " × " + m.Dims[1],
                MemberKind.Conv2d => "conv " + m.Dims[0] + " → " + m.Dims[1] + ", kernel " + m.Kernel + ", stride " + m.Stride,
                MemberKind.Module => m.Child!.Name,
                _ => m.Children.Count + " × " + ElementType(m),
            };
            return text + (m.Float32 ? " (kept float32)" : "") + " — " + System.IO.Path.GetFileName(m.Span.File) + ":" + m.Span.Line;
        }

        private void Forwards(SourceWriter w)
        {
            for (int index = 0; index < _cls.Forwards.Count; index++)
            {
                var f = _cls.Forwards[index];
                if (index > 0) w.Line();
                w.Line("// " + System.IO.Path.GetFileName(f.Span.File) + ":" + f.Span.Line + " forward " + f.Name);
                var modifiers = _cls.IsRoot ? "public override " : "public ";
                w.Open(modifiers + ReturnType(f) + " " + f.Name + "(" + string.Join(", ", new[] { "ForwardContext ctx" }.Concat(f.Params.Select(Param))) + ")");
                var declared = new HashSet<string>(f.Params.Select(p => p.Name));
                Body(w, f, f.Body, declared, loopVar: null);
                w.Close();
            }
        }

        public static string ReturnType(IrForward f) =>
            f.Outputs.Count > 1 ? "(" + string.Join(", ", f.Outputs.Select(o => "Tensor " + Names.Pascal(o))) + ")" : "Tensor";

        public static string Param(ForwardParam p) => p.Type switch
        {
            "bool" => "bool " + Names.Camel(p.Name),
            "int" => "long " + Names.Camel(p.Name),
            _ => (p.Optional ? "Tensor? " : "Tensor ") + Names.Camel(p.Name),
        };

        private void Body(SourceWriter w, IrForward f, List<Statement> body, HashSet<string> declared, string? loopVar)
        {
            var outer = _locals;
            _locals = declared;
            foreach (var s in body)
            {
                switch (s)
                {
                    case AssignStatement a when a.Targets.Count == 1:
                        var target = a.Targets[0];
                        w.Line((declared.Add(target) ? "var " : "") + Names.Camel(target) + " = " + Expr(a.Value, loopVar) + ";");
                        break;
                    case AssignStatement a:
                        bool allNew = a.Targets.All(t => !declared.Contains(t));
                        var list = string.Join(", ", a.Targets.Select(Names.Camel));
                        if (allNew) { foreach (var t in a.Targets) declared.Add(t); w.Line("var (" + list + ") = " + Expr(a.Value, loopVar) + ";"); }
                        else w.Line("(" + list + ") = " + Expr(a.Value, loopVar) + ";");
                        break;
                    case CallStatement c:
                        w.Line(Expr(c.Call, loopVar) + ";");
                        break;
                    case ReturnStatement r:
                        w.Line("return " + (r.Values.Count == 1 ? Expr(r.Values[0], loopVar) : "(" + string.Join(", ", r.Values.Select(v => Expr(v, loopVar))) + ")") + ";");
                        break;
                    case ForStatement loop:
                        var stack = _cls.FindMember(loop.Stack) ?? throw new GraphError(loop.Span, "'" + loop.Stack + "' is not a stack");
                        var field = Names.Pascal(stack.Name);
                        w.Open("for (int i = 0; i < " + field + ".Length; i++)");
                        w.Line("ctx.Layer = i;");
                        w.Line("var " + Names.Camel(loop.Variable) + " = " + field + "[i];");
                        // Each layer's intermediates are freed when it ends; what the loop carries moves out.
                        w.Line("using var layerScope = torch.NewDisposeScope();");
                        Body(w, f, loop.Body.ToList(), new HashSet<string>(declared) { loop.Variable }, loop.Variable);
                        foreach (var carried in loop.Body.OfType<AssignStatement>().SelectMany(a => a.Targets).Where(declared.Contains).Distinct())
                            w.Line(Names.Camel(carried) + " = " + Names.Camel(carried) + ".MoveToOuterDisposeScope();");
                        w.Close();
                        break;
                }
            }
            _locals = outer;
        }

        private string Expr(Expr e, string? loopVar)
        {
            switch (e)
            {
                case ConstExpr c:
                    // A let or argument the class declares as a constant is written by its name.
                    if (c.Let is not null && (c.Value.IsNumber || c.Value.Raw is bool) && _cls.Constants.Any(k => k.Name == c.Let)) return Names.Pascal(c.Let);
                    return c.Value.ToCSharp();
                case NameExpr n:
                    var parts = n.Name.Split('.');
                    // Locals shadow members (T5's `q = split_heads(q(x))`).
                    if (_locals.Contains(n.Name)) return Names.Camel(n.Name);
                    if (_cls.FindMember(parts[0]) is not null) return string.Join(".", parts.Select(Names.Pascal));
                    return Names.Camel(n.Name);
                case UnaryExpr u: return (u.Op == "not" ? "!" : "-") + Expr(u.Operand, loopVar);
                case BinaryExpr b: return Paren(b.Left, loopVar) + " " + b.Op + " " + Paren(b.Right, loopVar);
                case CallExpr c: return Call(c, loopVar);
            }
            throw new GraphError(e.Span, "cannot emit " + e.GetType().Name);
        }

        private string Paren(Expr e, string? loopVar) => e is BinaryExpr ? "(" + Expr(e, loopVar) + ")" : Expr(e, loopVar);

        private string Call(CallExpr c, string? loopVar)
        {
            var args = c.Args.Select(a => Expr(a, loopVar)).ToList();
            var parts = c.Callee.Split('.');
            // A layer of the loop: layer(...) or layer.ForwardText(...)
            if (parts[0] == loopVar)
                return Names.Camel(parts[0]) + "." + (parts.Length > 1 ? parts[1] : "Forward") + "(" + string.Join(", ", new[] { "ctx" }.Concat(args)) + ")";
            var member = _cls.FindMember(parts[0]);
            if (member is not null)
            {
                var field = Names.Pascal(member.Name);
                if (member.Kind == MemberKind.Module)
                    return field + "." + (parts.Length > 1 ? parts[1] : "Forward") + "(" + string.Join(", ", new[] { "ctx" }.Concat(args)) + ")";
                return field + ".Forward(" + string.Join(", ", args) + ")";
            }
            return Builtins.Emit(c, args, _cls);
        }
    }
}
