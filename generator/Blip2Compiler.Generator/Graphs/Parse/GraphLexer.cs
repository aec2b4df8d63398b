using System.Collections.Generic;
using System.Text;

namespace Blip2Compiler.Generator.Graphs.Parse
{
    internal enum TokenKind { Name, Number, String, Symbol, End }

    internal readonly record struct Token(TokenKind Kind, string Text, int Column)
    {
        public bool Is(string text) => (Kind == TokenKind.Symbol || Kind == TokenKind.Name) && Text == text;
        public override string ToString() => Kind == TokenKind.End ? "end of line" : "'" + Text + "'";
    }

    /// <summary>Splits one graph line into tokens. Names may contain dots (cfg.hidden_size, embed_tokens.weight).</summary>
    internal static class GraphLexer
    {
        private static readonly string[] Symbols = { "**", "//", "->", "==", "!=", "<=", ">=", "(", ")", "[", "]", ",", "=", "<", ">", "+", "-", "*", "/", "%", "@", "|", "?", ":" };

        public static List<Token> Tokenize(string line, System.Func<int, string, GraphException> error)
        {
            var tokens = new List<Token>();
            int i = 0;
            while (i < line.Length)
            {
                char c = line[i];
                if (c == ' ' || c == '\t') { i++; continue; }
                if (c == '#') break;
                int start = i;
                if (char.IsLetter(c) || c == '_')
                {
                    while (i < line.Length && (char.IsLetterOrDigit(line[i]) || line[i] == '_' || (line[i] == '.' && i + 1 < line.Length && (char.IsLetter(line[i + 1]) || line[i + 1] == '_')))) i++;
                    tokens.Add(new Token(TokenKind.Name, line.Substring(start, i - start), start));
                }
                else if (char.IsDigit(c))
                {
                    while (i < line.Length && (char.IsDigit(line[i]) || line[i] == '.')) i++;
                    if (i < line.Length && (line[i] == 'e' || line[i] == 'E'))
                    {
                        i++;
                        if (i < line.Length && (line[i] == '-' || line[i] == '+')) i++;
                        while (i < line.Length && char.IsDigit(line[i])) i++;
                    }
                    tokens.Add(new Token(TokenKind.Number, line.Substring(start, i - start), start));
                }
                else if (c == '"')
                {
                    var sb = new StringBuilder();
                    i++;
                    while (i < line.Length && line[i] != '"') sb.Append(line[i++]);
                    if (i >= line.Length) throw error(start, "unterminated string");
                    i++;
                    tokens.Add(new Token(TokenKind.String, sb.ToString(), start));
                }
                else
                {
                    string? symbol = null;
                    foreach (var s in Symbols)
                        if (string.CompareOrdinal(line, i, s, 0, s.Length) == 0) { symbol = s; break; }
                    if (symbol is null) throw error(i, "unexpected character '" + c + "'");
                    tokens.Add(new Token(TokenKind.Symbol, symbol, i));
                    i += symbol.Length;
                }
            }
            tokens.Add(new Token(TokenKind.End, "", line.Length));
            return tokens;
        }
    }
}
