using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Parse
{
    /// <summary>
    /// Stage 1, Parse: graph text → syntax tree. The language is line based; indentation nests
    /// (declarations at column 0, block items at 2, forward bodies at 4, loop bodies at 6).
    /// </summary>
    internal sealed class GraphParser
    {
        private readonly string _file;
        private readonly string[] _lines;
        private int _index;

        private GraphParser(string file, string text)
        {
            _file = file;
            _lines = text.Replace("\r\n", "\n").Split('\n');
        }

        public static GraphFile Parse(string file, string text) => new GraphParser(file, text).ParseFile();

        // ---- line navigation ----
        private static int Indent(string line) { int i = 0; while (i < line.Length && line[i] == ' ') i++; return i; }
        private static bool IsBlank(string line) { var t = line.Trim(); return t.Length == 0 || t[0] == '#'; }

        private void SkipBlank() { while (_index < _lines.Length && IsBlank(_lines[_index])) _index++; }

        /// <summary>Next non-blank line if it is indented exactly `indent`; otherwise null (end of the enclosing body).</summary>
        private Cursor? NextAt(int indent)
        {
            SkipBlank();
            if (_index >= _lines.Length) return null;
            var line = _lines[_index];
            int actual = Indent(line);
            if (actual < indent) return null;
            if (actual > indent) throw Error(_index + 1, "unexpected indentation");
            var cursor = new Cursor(this, _index + 1, GraphLexer.Tokenize(line, (col, msg) => Error(_index + 1, msg)));
            _index++;
            return cursor;
        }

        private GraphException Error(int line, string message) => new GraphException(_file, line, message);

        private GraphFile ParseFile()
        {
            var configs = new List<ConfigSchema>();
            var blocks = new List<BlockSyntax>();
            Cursor? c;
            while ((c = NextAt(0)) is not null)
            {
                var keyword = c.Name();
                switch (keyword)
                {
                    case "config": configs.Add(ParseConfig(c)); break;
                    case "block": blocks.Add(ParseBlock(c, isRoot: false)); break;
                    case "root": blocks.Add(ParseBlock(c, isRoot: true)); break;
                    default: throw c.Fail("expected 'config', 'block' or 'root', found '" + keyword + "'");
                }
            }
            return new GraphFile(_file, configs, blocks);
        }

        private ConfigSchema ParseConfig(Cursor head)
        {
            var name = head.Name();
            head.Expect("=");
            string section = head.Peek.Kind == TokenKind.String ? head.Take().Text : head.Name();
            // `or flat "model_type"`: the section saved alone, its keys at the top level (a tower's own config.json).
            string? flat = null;
            if (head.AcceptName("or"))
            {
                head.ExpectName("flat");
                flat = head.String();
            }
            head.End();
            var fields = new List<ConfigField>();
            Cursor? c;
            while ((c = NextAt(2)) is not null)
            {
                var type = c.Name();
                bool nullable = c.Accept("?");
                var field = c.Name();
                c.Expect("=");
                var value = c.Expression();
                bool list = false, acceptsNull = false;
                if (c.AcceptName("accepts"))
                {
                    do
                    {
                        var what = c.Name();
                        if (what == "list") list = true;
                        else if (what == "null") acceptsNull = true;
                        else throw c.Fail("a config field accepts 'list' or 'null', not '" + what + "'");
                    } while (c.Accept(","));
                }
                c.End();
                if (type != "int" && type != "float" && type != "bool" && type != "string" && type != "act")
                    throw c.Fail("a config field is int, float, bool, string or act, not '" + type + "'");
                fields.Add(new ConfigField(c.Span, type, field, nullable, value, list, acceptsNull));
            }
            return new ConfigSchema(head.Span, name, section, fields, flat);
        }

        private BlockSyntax ParseBlock(Cursor head, bool isRoot)
        {
            var name = head.Name();
            head.Expect("(");
            var alias = head.Name();
            head.Expect(":");
            var schema = head.Name();
            var parameters = new List<string>();
            while (head.Accept(",")) parameters.Add(head.Name());
            head.Expect(")");
            string? baseType = null;
            if (head.Accept(":")) baseType = head.Name();
            head.End();

            var lets = new List<LetSyntax>();
            var variants = new List<VariantSyntax>();
            var members = new List<MemberSyntax>();
            var ignores = new List<IgnoreSyntax>();
            var forwards = new List<ForwardSyntax>();
            var selects = new List<SelectSyntax>();
            var checks = new List<CheckSyntax>();
            var infos = new List<InfoSyntax>();
            Cursor? c;
            while ((c = NextAt(2)) is not null)
            {
                var keyword = c.Name();
                switch (keyword)
                {
                    case "let":
                        var letName = c.Name(); c.Expect("="); lets.Add(new LetSyntax(c.Span, letName, c.Expression())); c.End();
                        break;
                    case "variant":
                        var suffix = c.Name(); c.ExpectName("when"); variants.Add(new VariantSyntax(c.Span, suffix, c.Expression())); c.End();
                        break;
                    case "ignore":
                        var key = c.String(); ignores.Add(new IgnoreSyntax(c.Span, key, c.When())); c.End();
                        break;
                    case "forward":
                        forwards.Add(ParseForward(c));
                        break;
                    case "check":
                        var conditions = new List<Expr> { c.Expression() };
                        while (c.Accept(",")) conditions.Add(c.Expression());
                        string? why = c.Peek.Kind == TokenKind.String ? c.Take().Text : null;
                        c.End();
                        checks.Add(new CheckSyntax(c.Span, conditions, why));
                        break;
                    case "info":
                        if (!isRoot) throw c.Fail("only a root declares ModelInfo facts ('info Name = ...')");
                        var fact = c.Name(); c.Expect("="); infos.Add(new InfoSyntax(c.Span, fact, c.Expression())); c.End();
                        break;
                    case "select":
                        if (!isRoot) throw c.Fail("only a root says which configs it serves ('select when ...')");
                        c.ExpectName("when"); selects.Add(new SelectSyntax(c.Span, c.Expression())); c.End();
                        break;
                    default:
                        members.Add(ParseMember(c, keyword));
                        break;
                }
            }
            if (isRoot && selects.Count == 0) throw head.Fail("a root says which configs it serves: add 'select when ...'");
            return new BlockSyntax(head.Span, name, isRoot, baseType, alias, schema, parameters, lets, variants, members, ignores, forwards, selects, checks, infos);
        }

        private MemberSyntax ParseMember(Cursor c, string keyword)
        {
            MemberKind kind;
            switch (keyword)
            {
                case "param": kind = MemberKind.Param; break;
                case "linear": kind = MemberKind.Linear; break;
                case "layernorm": kind = MemberKind.LayerNorm; break;
                case "rmsnorm": kind = MemberKind.RmsNorm; break;
                case "embedding": kind = MemberKind.Embedding; break;
                case "conv2d": kind = MemberKind.Conv2d; break;
                case "module": kind = MemberKind.Module; break;
                case "stack": kind = MemberKind.Stack; break;
                default: throw c.Fail("unknown block item '" + keyword + "'");
            }
            var name = c.Name();
            var dims = new List<Expr>();
            var options = new Dictionary<string, Expr>();
            string? blockName = null;
            var blockArgs = new List<(string, Expr)>();
            switch (kind)
            {
                case MemberKind.Param:
                    c.Expect("[");
                    dims.Add(c.Expression());
                    while (c.Accept(",")) dims.Add(c.Expression());
                    c.Expect("]");
                    break;
                case MemberKind.Linear:
                case MemberKind.Conv2d:
                    dims.Add(c.Expression()); c.Expect("->"); dims.Add(c.Expression());
                    break;
                case MemberKind.LayerNorm:
                case MemberKind.RmsNorm:
                    dims.Add(c.Expression());
                    break;
                case MemberKind.Embedding:
                    dims.Add(c.Expression()); dims.Add(c.Expression());
                    break;
                case MemberKind.Module:
                case MemberKind.Stack:
                    blockName = c.Name();
                    if (c.Accept("("))
                    {
                        do { var argName = c.Name(); c.Expect("="); blockArgs.Add((argName, c.Expression())); } while (c.Accept(","));
                        c.Expect(")");
                    }
                    if (kind == MemberKind.Stack) { c.ExpectName("x"); options["count"] = c.Expression(); }
                    break;
            }
            string? key = null;
            var sources = new List<SourceSyntax>();
            bool float32 = false;
            Expr? when = null;
            while (!c.AtEnd)
            {
                if (c.Accept("@"))
                {
                    do sources.Add(ParseSource(c)); while (c.Accept("|"));
                    if (sources[0].Kind == SourceKind.Copy) key = sources[0].Keys[0];
                }
                else if (c.AcceptName("float32")) float32 = true;
                else if (c.AcceptName("when")) when = c.Expression();
                else if (c.Peek.Kind == TokenKind.Name && (c.Peek.Text == "eps" || c.Peek.Text == "kernel" || c.Peek.Text == "stride" || c.Peek.Text == "bias"))
                {
                    var option = c.Name();
                    options[option] = c.Expression();
                }
                else throw c.Fail("unexpected " + c.Peek);
            }
            if (kind != MemberKind.Param && sources.Count > 1) throw c.Fail("only a param may list alternative sources");
            return new MemberSyntax(c.Span, kind, name, dims, options, blockName, blockArgs, key, kind == MemberKind.Param ? sources : new List<SourceSyntax>(), float32, when);
        }

        private static SourceSyntax ParseSource(Cursor c)
        {
            if (c.Peek.Kind == TokenKind.String) return new SourceSyntax(SourceKind.Copy, new[] { c.Take().Text });
            var kind = c.Name();
            if (kind != "qkv_bias" && kind != "concat") throw c.Fail("a source is a \"key\", concat(...) or qkv_bias(...)");
            c.Expect("(");
            var keys = new List<string> { c.String() };
            while (c.Accept(",")) keys.Add(c.String());
            c.Expect(")");
            return new SourceSyntax(kind == "concat" ? SourceKind.Concat : SourceKind.QkvBias, keys);
        }

        private ForwardSyntax ParseForward(Cursor head)
        {
            var name = head.Name();
            head.Expect("(");
            var parameters = new List<ForwardParam>();
            if (!head.Accept(")"))
            {
                do
                {
                    var first = head.Name();
                    if (first == "bool" || first == "int") parameters.Add(new ForwardParam(head.Name(), first, false));
                    else parameters.Add(new ForwardParam(first, "tensor", head.Accept("?")));
                } while (head.Accept(","));
                head.Expect(")");
            }
            var outputs = new List<string>();
            if (head.Accept("->"))
            {
                outputs.Add(head.Name());
                while (head.Accept(",")) outputs.Add(head.Name());
            }
            var when = head.When();
            head.End();
            return new ForwardSyntax(head.Span, name, parameters, outputs, ParseBody(4), when);
        }

        private List<Statement> ParseBody(int indent)
        {
            var body = new List<Statement>();
            Cursor? c;
            while ((c = NextAt(indent)) is not null)
            {
                if (c.AcceptName("return"))
                {
                    var values = new List<Expr> { c.Expression() };
                    while (c.Accept(",")) values.Add(c.Expression());
                    var when = c.When(); c.End();
                    body.Add(new ReturnStatement(c.Span, values, when));
                }
                else if (c.AcceptName("for"))
                {
                    var variable = c.Name(); c.ExpectName("in"); var stack = c.Name(); c.End();
                    body.Add(new ForStatement(c.Span, variable, stack, ParseBody(indent + 2)));
                }
                else if (c.Peek.Kind == TokenKind.Name && (c.PeekAt(1).Is("=") || c.PeekAt(1).Is(",")))
                {
                    var targets = new List<string> { c.Name() };
                    while (c.Accept(",")) targets.Add(c.Name());
                    c.Expect("=");
                    var value = c.Expression();
                    var when = c.When(); c.End();
                    body.Add(new AssignStatement(c.Span, targets, value, when));
                }
                else
                {
                    var call = c.Expression();
                    if (call is not CallExpr) throw c.Fail("a statement is an assignment, a call, 'for' or 'return'");
                    var when = c.When(); c.End();
                    body.Add(new CallStatement(c.Span, call, when));
                }
            }
            return body;
        }

        /// <summary>Tokens of one line with a read position.</summary>
        private sealed class Cursor
        {
            private readonly GraphParser _parser;
            private readonly List<Token> _tokens;
            private int _pos;

            public Cursor(GraphParser parser, int line, List<Token> tokens) { _parser = parser; Line = line; _tokens = tokens; }
            public int Line { get; }
            public GraphSpan Span => new GraphSpan(_parser._file, Line);
            public Token Peek => _tokens[_pos];
            public Token PeekAt(int offset) => _tokens[System.Math.Min(_pos + offset, _tokens.Count - 1)];
            public bool AtEnd => Peek.Kind == TokenKind.End;
            public Token Take() => _tokens[_pos++];
            public GraphException Fail(string message) => _parser.Error(Line, message);

            public string Name() { if (Peek.Kind != TokenKind.Name) throw Fail("expected a name, found " + Peek); return Take().Text; }
            public string String() { if (Peek.Kind != TokenKind.String) throw Fail("expected a string, found " + Peek); return Take().Text; }
            public bool Accept(string symbol) { if (Peek.Kind == TokenKind.Symbol && Peek.Text == symbol) { _pos++; return true; } return false; }
            public bool AcceptName(string name) { if (Peek.Kind == TokenKind.Name && Peek.Text == name) { _pos++; return true; } return false; }
            public void Expect(string symbol) { if (!Accept(symbol)) throw Fail("expected '" + symbol + "', found " + Peek); }
            public void ExpectName(string name) { if (!AcceptName(name)) throw Fail("expected '" + name + "', found " + Peek); }
            public void End() { if (!AtEnd) throw Fail("unexpected " + Peek); }
            public Expr? When() => AcceptName("when") ? Expression() : null;

            // Precedence climbing: conditional < or < and < not < comparison (and `in`) < additive < multiplicative
            // < unary < power < primary.
            public Expr Expression()
            {
                var e = Or();
                if (!AcceptName("if")) return e;
                var condition = Or();
                ExpectName("else");
                return new ConditionalExpr(Span, e, condition, Expression());
            }
            private Expr Or() { var e = And(); while (AcceptName("or")) e = new BinaryExpr(Span, "or", e, And()); return e; }
            private Expr And() { var e = Not(); while (AcceptName("and")) e = new BinaryExpr(Span, "and", e, Not()); return e; }
            private Expr Not() => AcceptName("not") ? new UnaryExpr(Span, "not", Not()) : Comparison();
            private Expr Comparison()
            {
                var e = Additive();
                if (AcceptName("in"))
                {
                    Expect("[");
                    var items = new List<Expr> { Expression() };
                    while (Accept(",")) items.Add(Expression());
                    Expect("]");
                    return new InExpr(Span, e, items);
                }
                foreach (var op in new[] { "==", "!=", "<=", ">=", "<", ">" })
                    if (Accept(op)) return new BinaryExpr(Span, op, e, Additive());
                return e;
            }
            private Expr Additive()
            {
                var e = Multiplicative();
                while (true)
                {
                    if (Accept("+")) e = new BinaryExpr(Span, "+", e, Multiplicative());
                    else if (Accept("-")) e = new BinaryExpr(Span, "-", e, Multiplicative());
                    else return e;
                }
            }
            private Expr Multiplicative()
            {
                var e = Unary();
                while (true)
                {
                    string? op = Accept("*") ? "*" : Accept("//") ? "//" : Accept("/") ? "/" : Accept("%") ? "%" : null;
                    if (op is null) return e;
                    e = new BinaryExpr(Span, op, e, Unary());
                }
            }
            private Expr Unary() => Accept("-") ? new UnaryExpr(Span, "-", Unary()) : Power();
            private Expr Power()
            {
                var e = Primary();
                return Accept("**") ? new BinaryExpr(Span, "**", e, Unary()) : e;
            }
            private Expr Primary()
            {
                var t = Peek;
                switch (t.Kind)
                {
                    case TokenKind.Number: _pos++; return new NumberExpr(Span, t.Text);
                    case TokenKind.String: _pos++; return new StringExpr(Span, t.Text);
                    case TokenKind.Name:
                        _pos++;
                        if (!Accept("(")) return new NameExpr(Span, t.Text);
                        var args = new List<Expr>();
                        var named = new List<(string, Expr)>();
                        if (!Accept(")"))
                        {
                            do
                            {
                                if (Peek.Kind == TokenKind.Name && PeekAt(1).Is("=")) { var n = Take().Text; _pos++; named.Add((n, Expression())); }
                                else args.Add(Expression());
                            } while (Accept(","));
                            Expect(")");
                        }
                        return new CallExpr(Span, t.Text, args, named);
                    default:
                        if (Accept("(")) { var inner = Expression(); Expect(")"); return inner; }
                        throw Fail("expected an expression, found " + t);
                }
            }
        }
    }
}
