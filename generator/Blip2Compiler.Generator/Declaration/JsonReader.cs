using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>
/// A small strict JSON (RFC 8259) reader that keeps spans. Written here because System.Text.Json cannot be loaded by
/// the compiler from a netstandard2.0 generator without shipping it. Like Python's <c>json</c> module (which writes
/// HF configs) it also accepts <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c>. Nesting is limited so a hostile
/// file cannot overflow the compiler's stack.
/// </summary>
internal sealed class JsonReader
{
    public const int MaxDepth = 64;

    private readonly string _text;
    private int _pos;
    private int _depth;

    private JsonReader(string text) => _text = text;

    /// <summary>Parses one JSON value that spans the whole text (whitespace around it allowed).</summary>
    /// <exception cref="JsonSyntaxException">The text is not valid JSON.</exception>
    public static JsonNode Parse(string text)
    {
        var reader = new JsonReader(text);
        reader.SkipWhitespace();
        if (reader._pos == 0 && text.Length > 0 && text[0] == '\uFEFF')
        {
            reader._pos = 1; // a byte order mark that survived decoding
            reader.SkipWhitespace();
        }
        var value = reader.ReadValue();
        reader.SkipWhitespace();
        if (reader._pos < text.Length) throw reader.Error("unexpected " + reader.Describe(reader._pos) + " after the end of the JSON value");
        return value;
    }

    private JsonNode ReadValue()
    {
        if (_pos >= _text.Length) throw Error("unexpected end of file, expected a value");
        var c = _text[_pos];
        switch (c)
        {
            case '{': return ReadObject();
            case '[': return ReadArray();
            case '"':
                var start = _pos;
                var s = ReadString();
                return new JsonNode(JsonKind.String, TextSpan.FromBounds(start, _pos), s);
            case 't': return ReadLiteral("true", JsonKind.True);
            case 'f': return ReadLiteral("false", JsonKind.False);
            case 'n': return ReadLiteral("null", JsonKind.Null);
            case 'N': return ReadLiteral("NaN", JsonKind.Number);
            case 'I': return ReadLiteral("Infinity", JsonKind.Number);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                if (IsIdentifierChar(c)) throw UnexpectedWord();
                throw Error("unexpected " + Describe(_pos) + ", expected a value");
        }
    }

    private JsonNode ReadObject()
    {
        var start = _pos;
        Enter();
        _pos++; // {
        var members = new List<JsonMember>();
        SkipWhitespace();
        if (Peek() == '}')
        {
            _pos++;
            _depth--;
            return new JsonNode(JsonKind.Object, TextSpan.FromBounds(start, _pos), members: members);
        }
        while (true)
        {
            SkipWhitespace();
            if (Peek() != '"') throw Error("unexpected " + Describe(_pos) + ", expected a property name in double quotes");
            var nameStart = _pos;
            var name = ReadString();
            var nameSpan = TextSpan.FromBounds(nameStart, _pos);
            SkipWhitespace();
            if (Peek() != ':') throw Error("unexpected " + Describe(_pos) + ", expected ':' after the property name \"" + name + "\"");
            _pos++;
            SkipWhitespace();
            members.Add(new JsonMember(name, nameSpan, ReadValue()));
            SkipWhitespace();
            var next = Peek();
            if (next == ',') { _pos++; continue; }
            if (next == '}') { _pos++; break; }
            throw Error("unexpected " + Describe(_pos) + ", expected ',' or '}' after the value of \"" + name + "\"");
        }
        _depth--;
        return new JsonNode(JsonKind.Object, TextSpan.FromBounds(start, _pos), members: members);
    }

    private JsonNode ReadArray()
    {
        var start = _pos;
        Enter();
        _pos++; // [
        var items = new List<JsonNode>();
        SkipWhitespace();
        if (Peek() == ']')
        {
            _pos++;
            _depth--;
            return new JsonNode(JsonKind.Array, TextSpan.FromBounds(start, _pos), items: items);
        }
        while (true)
        {
            SkipWhitespace();
            items.Add(ReadValue());
            SkipWhitespace();
            var next = Peek();
            if (next == ',') { _pos++; continue; }
            if (next == ']') { _pos++; break; }
            throw Error("unexpected " + Describe(_pos) + ", expected ',' or ']' in an array");
        }
        _depth--;
        return new JsonNode(JsonKind.Array, TextSpan.FromBounds(start, _pos), items: items);
    }

    private string ReadString()
    {
        var open = _pos;
        _pos++; // "
        StringBuilder? sb = null;
        var runStart = _pos;
        while (true)
        {
            if (_pos >= _text.Length) throw new JsonSyntaxException("unterminated string", open);
            var c = _text[_pos];
            if (c == '"')
            {
                var run = _text.Substring(runStart, _pos - runStart);
                _pos++;
                return sb is null ? run : sb.Append(run).ToString();
            }
            if (c < ' ') throw Error(c == '\n' ? "unterminated string (a line break inside a string must be written \\n)" : "control character U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) + " in a string must be escaped");
            if (c != '\\') { _pos++; continue; }

            sb ??= new StringBuilder();
            sb.Append(_text, runStart, _pos - runStart);
            var escapeAt = _pos;
            _pos++;
            if (_pos >= _text.Length) throw new JsonSyntaxException("unterminated string", open);
            var e = _text[_pos++];
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                    if (_pos + 4 > _text.Length || !int.TryParse(_text.Substring(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                        throw new JsonSyntaxException("invalid \\u escape: expected four hex digits", escapeAt);
                    sb.Append((char)code);
                    _pos += 4;
                    break;
                default:
                    throw new JsonSyntaxException("invalid escape '\\" + e + "' in a string", escapeAt);
            }
            runStart = _pos;
        }
    }

    private JsonNode ReadNumber()
    {
        var start = _pos;
        if (Peek() == '-')
        {
            _pos++;
            if (Peek() == 'I') // -Infinity
            {
                _pos--;
                return ReadLiteral("-Infinity", JsonKind.Number);
            }
        }
        if (Peek() == '0')
        {
            _pos++;
            if (IsDigit(Peek())) throw Error("a number must not have leading zeros");
        }
        else if (IsDigit(Peek()))
        {
            while (IsDigit(Peek())) _pos++;
        }
        else
        {
            throw Error("unexpected " + Describe(_pos) + ", expected a digit");
        }
        if (Peek() == '.')
        {
            _pos++;
            if (!IsDigit(Peek())) throw Error("expected a digit after the decimal point");
            while (IsDigit(Peek())) _pos++;
        }
        if (Peek() is 'e' or 'E')
        {
            _pos++;
            if (Peek() is '+' or '-') _pos++;
            if (!IsDigit(Peek())) throw Error("expected a digit in the exponent");
            while (IsDigit(Peek())) _pos++;
        }
        return new JsonNode(JsonKind.Number, TextSpan.FromBounds(start, _pos), _text.Substring(start, _pos - start));
    }

    private JsonNode ReadLiteral(string literal, JsonKind kind)
    {
        if (string.CompareOrdinal(_text, _pos, literal, 0, literal.Length) != 0 || IsIdentifierChar(At(_pos + literal.Length)))
            throw UnexpectedWord();
        var start = _pos;
        _pos += literal.Length;
        return new JsonNode(kind, TextSpan.FromBounds(start, _pos), literal);
    }

    private JsonSyntaxException UnexpectedWord()
    {
        var end = _pos;
        if (At(end) == '-') end++;
        while (IsIdentifierChar(At(end))) end++;
        var word = _text.Substring(_pos, Math.Min(end - _pos, 20));
        return Error("unexpected '" + word + "', expected a value (strings need double quotes; the literals are true, false and null)");
    }

    private void Enter()
    {
        if (++_depth > MaxDepth) throw Error("nesting deeper than " + MaxDepth + " levels");
    }

    private void SkipWhitespace()
    {
        while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\n' or '\r') _pos++;
    }

    private char Peek() => At(_pos);

    private char At(int i) => i < _text.Length ? _text[i] : '\0';

    private static bool IsDigit(char c) => c >= '0' && c <= '9';

    private static bool IsIdentifierChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    private string Describe(int i)
    {
        if (i >= _text.Length) return "end of file";
        var c = _text[i];
        return c < ' ' ? "character U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) : "'" + c + "'";
    }

    private JsonSyntaxException Error(string message) => new(message, _pos);
}
