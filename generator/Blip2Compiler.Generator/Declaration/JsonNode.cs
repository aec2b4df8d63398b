using System.Collections.Generic;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Generator.Declaration;

internal enum JsonKind { Object, Array, String, Number, True, False, Null }

/// <summary>
/// A parsed JSON value with its span in the text. Numbers keep their literal text (<see cref="Text"/>), strings their
/// unescaped value; objects keep members in document order (duplicates included: the last one wins, as in Python).
/// </summary>
internal sealed class JsonNode
{
    public JsonNode(JsonKind kind, TextSpan span, string text = "", IReadOnlyList<JsonMember>? members = null, IReadOnlyList<JsonNode>? items = null)
    {
        Kind = kind;
        Span = span;
        Text = text;
        Members = members ?? System.Array.Empty<JsonMember>();
        Items = items ?? System.Array.Empty<JsonNode>();
    }

    public JsonKind Kind { get; }

    public TextSpan Span { get; }

    /// <summary>The unescaped string, the number's literal text, or "true"/"false"/"null".</summary>
    public string Text { get; }

    public IReadOnlyList<JsonMember> Members { get; }

    public IReadOnlyList<JsonNode> Items { get; }
}

/// <summary>One <c>"name": value</c> pair of an object.</summary>
internal sealed class JsonMember
{
    public JsonMember(string name, TextSpan nameSpan, JsonNode value)
    {
        Name = name;
        NameSpan = nameSpan;
        Value = value;
    }

    public string Name { get; }

    public TextSpan NameSpan { get; }

    public JsonNode Value { get; }
}
