using System.Text;

namespace Blip2Compiler.Generator.Graphs.Emit
{
    /// <summary>Indent-aware text builder for generated C# (the System.Text.Json generator's approach).</summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _sb = new StringBuilder();
        private int _indent;

        public void Line(string text = "")
        {
            if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
            _sb.Append('\n');
        }

        public void Open(string header) { Line(header); Line("{"); _indent++; }
        public void Close(string suffix = "") { _indent--; Line("}" + suffix); }
        public void Indent() => _indent++;
        public void Dedent() => _indent--;
        public override string ToString() => _sb.ToString();
    }

    internal static class Names
    {
        /// <summary>snake_case member → PascalCase field (self_attn → SelfAttn, layer_norm1 → LayerNorm1).</summary>
        public static string Pascal(string name)
        {
            var sb = new StringBuilder();
            bool upper = true;
            foreach (var c in name)
            {
                if (c == '_') { upper = true; continue; }
                sb.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
            var s = sb.ToString();
            return s.Length == 0 || char.IsDigit(s[0]) ? "_" + s : s;
        }

        /// <summary>snake_case local → camelCase (last_hidden_state → lastHiddenState).</summary>
        public static string Camel(string name)
        {
            var p = Pascal(name);
            var s = char.ToLowerInvariant(p[0]) + p.Substring(1);
            return s switch { "out" or "in" or "ref" or "base" or "object" or "string" or "params" or "event" or "fixed" => "@" + s, _ => s };
        }
    }
}
