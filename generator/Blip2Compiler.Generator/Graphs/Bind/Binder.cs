using System.Collections.Generic;
using System.Linq;
using System.Text;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Bind
{
    /// <summary>
    /// Stage 4, Bind: instantiates the chosen root block with the config's numbers. Every `let`, shape, eps and
    /// `when` becomes a value; forward wiring keeps only the statements that apply; blocks instantiated with
    /// the same structure share one class (the 39 vision layers are one class), different structure (a Q-Former
    /// layer with cross-attention) becomes a variant class.
    /// </summary>
    internal sealed class Binder
    {
        private readonly Dictionary<string, BlockSyntax> _blocks = new Dictionary<string, BlockSyntax>();
        private readonly ConfigView _config;
        private readonly Dictionary<string, IrClass> _bySignature = new Dictionary<string, IrClass>();
        private readonly Dictionary<string, int> _nameUse = new Dictionary<string, int>();
        private readonly List<IrClass> _classes = new List<IrClass>();

        public Binder(IEnumerable<GraphFile> graphs, ConfigView config)
        {
            foreach (var g in graphs) foreach (var b in g.Blocks) _blocks[b.Name] = b;
            _config = config;
        }

        public IrModel Bind(ModelDeclaration declaration, string rootBlock)
        {
            if (!_blocks.TryGetValue(rootBlock, out var root)) throw new BindException("no root block '" + rootBlock + "' in the graphs");
            var rootClass = Instantiate(root, new Dictionary<string, ConstValue>());
            rootClass.Name = declaration.ClassName;
            var rootScope = new BlockScope(_config, root, new Dictionary<string, ConstValue>());
            var facts = new List<(string, ConstValue)>();
            foreach (var info in root.Infos)
            {
                var value = rootScope.Eval(info.Value);
                if (!value.IsNone) facts.Add((info.Name, value));
            }
            return new IrModel
            {
                Facts = facts,
                KvCache = KvCacheFinder.Find(rootClass),
                Namespace = declaration.Namespace,
                ClassName = declaration.ClassName,
                Accessibility = declaration.Accessibility,
                ConfigPath = declaration.Config.SourcePath,
                Architecture = rootBlock,
                Root = rootClass,
                Classes = _classes,
                Config = _config,
            };
        }

        private IrClass Instantiate(BlockSyntax block, Dictionary<string, ConstValue> args)
        {
            var scope = new BlockScope(_config, block, args);

            var cls = new IrClass { BlockName = block.Name, Span = block.Span, IsRoot = block.IsRoot, BaseType = block.BaseType };
            foreach (var v in block.Variants)
                if (scope.Eval(v.When).AsBool) { cls.Variant = v.Suffix; break; }
            foreach (var p in block.Params) if (args.TryGetValue(p, out var value) && !(value.Raw is string)) cls.Constants.Add((p, value));
            foreach (var let in block.Lets) cls.Constants.Add((let.Name, scope.Let(let.Name)));

            foreach (var m in block.Members)
            {
                if (m.When is not null && !scope.Eval(m.When).AsBool) { scope.Absent.Add(m.Name); continue; }
                cls.Members.Add(BindMember(m, scope));
            }
            // A member declared once per condition (a tower's keys with or without the full checkpoint's prefix) is
            // present when one of its declarations applies.
            scope.Absent.ExceptWith(cls.Members.Select(m => m.Name));
            if (cls.Members.Select(m => m.Name).Distinct().Count() != cls.Members.Count)
                throw new BindException("a member of " + block.Name + " is declared twice for this config: their 'when' conditions must exclude each other");
            foreach (var ignore in block.Ignores)
                if (ignore.When is null || scope.Eval(ignore.When).AsBool) cls.IgnoredKeys.Add(ignore.Key);

            foreach (var f in block.Forwards)
            {
                if (f.When is not null && !scope.Eval(f.When).AsBool) continue;
                var forward = new IrForward { Name = f.Name, Params = f.Params.ToList(), Outputs = f.OutputNames.ToList(), Span = f.Span };
                var locals = new HashSet<string>(f.Params.Select(p => p.Name));
                forward.Body = BindBody(f.Body, scope, locals);
                cls.Forwards.Add(forward);
            }

            cls.Signature = Signature(cls);
            if (!cls.IsRoot && _bySignature.TryGetValue(cls.Signature, out var existing)) return existing;
            cls.Name = UniqueName(block.Name + cls.Variant);
            if (!cls.IsRoot) _bySignature[cls.Signature] = cls;
            _classes.Add(cls);
            return cls;
        }

        private string UniqueName(string name)
        {
            _nameUse.TryGetValue(name, out var n);
            _nameUse[name] = n + 1;
            return n == 0 ? name : name + (n + 1);
        }

        private IrMember BindMember(MemberSyntax m, BlockScope scope)
        {
            var member = new IrMember { Kind = m.Kind, Name = m.Name, Span = m.Span, Float32 = m.Float32 };
            member.Key = m.Key ?? m.Name; // may hold {name}: filled per instance by the key map
            member.Dims = m.Dims.Select(d => scope.Eval(d).AsInt).ToArray();
            for (int i = 0; i < member.Dims.Length; i++)
                if (member.Dims[i] <= 0)
                    throw new BindException("must be positive (a size of '" + m.Name + "' in " + scope.Block.Name + ")", scope.PathOf(m.Dims[i]), member.Dims[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (m.Options.TryGetValue("eps", out var eps)) member.Eps = scope.Eval(eps).AsDouble;
            if (m.Options.TryGetValue("kernel", out var kernel)) member.Kernel = scope.Eval(kernel).AsInt;
            if (m.Options.TryGetValue("stride", out var stride)) member.Stride = scope.Eval(stride).AsInt;
            if (m.Options.TryGetValue("bias", out var bias)) member.Bias = scope.Eval(bias).AsBool;
            foreach (var s in m.Sources) member.Sources.Add(new IrSource(s.Kind, s.Keys.ToList()));

            if (m.Kind == MemberKind.Module || m.Kind == MemberKind.Stack)
            {
                if (!_blocks.TryGetValue(m.BlockName!, out var child)) throw new BindException("unknown block '" + m.BlockName + "'");
                var childArgs = new Dictionary<string, ConstValue>();
                foreach (var (name, value) in m.BlockArgs)
                {
                    childArgs[name] = scope.Eval(value);
                    // String arguments only name checkpoint keys: they do not make a new class.
                    if (childArgs[name].Raw is string text) member.ChildKeyArgs[name] = text;
                }
                if (m.Kind == MemberKind.Module) member.Child = Instantiate(child, childArgs);
                else
                {
                    var count = scope.Eval(m.Options["count"]).AsInt;
                    if (count <= 0) throw new BindException("must be positive (the layer count of '" + m.Name + "' in " + scope.Block.Name + ")", scope.PathOf(m.Options["count"]), count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    for (long i = 0; i < count; i++)
                    {
                        var indexed = new Dictionary<string, ConstValue>(childArgs) { ["index"] = ConstValue.Of(i) };
                        member.Children.Add(Instantiate(child, indexed));
                    }
                    var kinds = member.Children.Distinct().ToList();
                    if (kinds.Count > 1) foreach (var k in kinds) k.Interface = "I" + child.Name;
                }
            }
            return member;
        }

        private List<Statement> BindBody(IReadOnlyList<Statement> body, BlockScope scope, HashSet<string> locals)
        {
            var bound = new List<Statement>();
            foreach (var s in body)
            {
                if (s.When is not null && !scope.Eval(s.When).AsBool) continue;
                switch (s)
                {
                    case AssignStatement a:
                        bound.Add(new AssignStatement(a.Span, a.Targets, Fold(a.Value, scope, locals), null));
                        foreach (var t in a.Targets) locals.Add(t);
                        break;
                    case CallStatement c:
                        bound.Add(new CallStatement(c.Span, Fold(c.Call, scope, locals), null));
                        break;
                    case ReturnStatement r:
                        bound.Add(new ReturnStatement(r.Span, r.Values.Select(v => Fold(v, scope, locals)).ToList(), null));
                        break;
                    case ForStatement f:
                        var inner = new HashSet<string>(locals) { f.Variable };
                        bound.Add(new ForStatement(f.Span, f.Variable, f.Stack, BindBody(f.Body, scope, inner)));
                        break;
                }
            }
            return bound;
        }

        /// <summary>Folds config values and lets into literals; names of absent members become none.</summary>
        private Expr Fold(Expr e, BlockScope scope, HashSet<string> locals)
        {
            switch (e)
            {
                case NumberExpr or StringExpr:
                    return new ConstExpr(e.Span, ConstEvaluator.Evaluate(e, _ => null));
                case NameExpr n:
                    if (locals.Contains(n.Name)) return n;
                    var root = n.Name.Split('.')[0];
                    if (scope.Absent.Contains(root)) return new ConstExpr(n.Span, ConstValue.None);
                    if (scope.Block.Members.Any(m => m.Name == root)) return n;
                    if (n.Name == "true" || n.Name == "false" || n.Name == "none") return new ConstExpr(n.Span, ConstEvaluator.Evaluate(n, _ => null));
                    var value = scope.Lookup(n.Name) ?? throw new BindException("unknown name '" + n.Name + "' in " + scope.Block.Name);
                    bool named = scope.Block.Lets.Any(l => l.Name == n.Name) || scope.Block.Params.Contains(n.Name);
                    return new ConstExpr(n.Span, value, named ? n.Name : null);
                case UnaryExpr u:
                    var operand = Fold(u.Operand, scope, locals);
                    if (operand is ConstExpr c1) return new ConstExpr(u.Span, ConstEvaluator.Evaluate(new UnaryExpr(u.Span, u.Op, Literal(c1)), _ => null));
                    return new UnaryExpr(u.Span, u.Op, operand);
                case BinaryExpr b:
                    var left = Fold(b.Left, scope, locals);
                    var right = Fold(b.Right, scope, locals);
                    if (left is ConstExpr l && right is ConstExpr r)
                        return new ConstExpr(b.Span, ConstEvaluator.Evaluate(new BinaryExpr(b.Span, b.Op, Literal(l), Literal(r)), _ => null));
                    return new BinaryExpr(b.Span, b.Op, left, right);
                case CallExpr call:
                    var callee = call.Callee.Split('.')[0];
                    if (scope.Absent.Contains(callee)) throw new BindException("'" + call.Callee + "' is called but absent for this config in " + scope.Block.Name);
                    return new CallExpr(call.Span, call.Callee,
                        call.Args.Select(a => Fold(a, scope, locals)).ToList(),
                        call.Named.Select(p => (p.Name, Fold(p.Value, scope, locals))).ToList());
                default:
                    return e;
            }
        }

        private static Expr Literal(ConstExpr c) => c.Value.Raw switch
        {
            long l => new NumberExpr(c.Span, l.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            double d => new NumberExpr(c.Span, ConstValue.FormatDouble(d)),
            string s => new StringExpr(c.Span, s),
            bool b => new NameExpr(c.Span, b ? "true" : "false"),
            _ => new NameExpr(c.Span, "none"),
        };

        private static string Signature(IrClass cls)
        {
            var sb = new StringBuilder(cls.BlockName).Append('|').Append(cls.Variant);
            foreach (var (name, value) in cls.Constants) sb.Append('|').Append(name).Append('=').Append(value);
            foreach (var m in cls.Members)
            {
                sb.Append("|m:").Append(m.Kind).Append(' ').Append(m.Name).Append(' ').Append(string.Join("x", m.Dims))
                  .Append(' ').Append(m.Eps).Append(' ').Append(m.Bias).Append(' ').Append(m.Kernel).Append(' ').Append(m.Stride);
                if (m.Child is not null) sb.Append(' ').Append(m.Child.Name);
                foreach (var c in m.Children) sb.Append(' ').Append(c.Name);
            }
            // Forward bodies follow from the block, its constants and which members exist: their names suffice.
            foreach (var f in cls.Forwards) sb.Append("|f:").Append(f.Name);
            return sb.ToString();
        }
    }
}
