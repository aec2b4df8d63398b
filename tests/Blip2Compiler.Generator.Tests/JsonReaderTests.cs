using Blip2Compiler.Generator.Declaration;

namespace Blip2Compiler.Generator.Tests;

public class JsonReaderTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-12")]
    [InlineData("2560")]
    [InlineData("0.02")]
    [InlineData("1e-06")]
    [InlineData("1E+12")]
    [InlineData("-1.5e-12")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    public void Numbers_keep_their_literal_text(string literal)
    {
        var node = JsonReader.Parse(" " + literal + " ");
        Assert.Equal(JsonKind.Number, node.Kind);
        Assert.Equal(literal, node.Text);
        Assert.Equal(1, node.Span.Start);
        Assert.Equal(literal.Length, node.Span.Length);
    }

    [Fact]
    public void Strings_are_unescaped()
    {
        var node = JsonReader.Parse("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"");
        Assert.Equal(JsonKind.String, node.Kind);
        Assert.Equal("a\"b\\c/d\n\té\U0001F600", node.Text);
    }

    [Fact]
    public void Literals_and_arrays()
    {
        var node = JsonReader.Parse("[true, false, null, [], {}, \"x\", 3]");
        Assert.Equal(JsonKind.Array, node.Kind);
        Assert.Equal(
            new[] { JsonKind.True, JsonKind.False, JsonKind.Null, JsonKind.Array, JsonKind.Object, JsonKind.String, JsonKind.Number },
            node.Items.Select(i => i.Kind));
    }

    [Fact]
    public void Nested_objects_keep_member_order_and_spans()
    {
        const string text = "{\"vision_config\": {\"hidden_size\": 1408, \"layer_norm_eps\": 1e-06}, \"a\": [1, 2]}";
        var root = JsonReader.Parse(text);
        Assert.Equal(new[] { "vision_config", "a" }, root.Members.Select(m => m.Name));
        var vision = root.Members[0].Value;
        Assert.Equal(new[] { "hidden_size", "layer_norm_eps" }, vision.Members.Select(m => m.Name));
        var eps = vision.Members[1].Value;
        Assert.Equal("1e-06", text.Substring(eps.Span.Start, eps.Span.Length));
        Assert.Equal("\"hidden_size\"", text.Substring(vision.Members[0].NameSpan.Start, vision.Members[0].NameSpan.Length));
    }

    [Theory]
    [InlineData("", 0, "unexpected end of file")]
    [InlineData("{\"a\": 1,}", 8, "expected a property name")]
    [InlineData("{\"a\" 1}", 5, "expected ':'")]
    [InlineData("{\"a\": 1 \"b\": 2}", 8, "expected ',' or '}'")]
    [InlineData("[1, 2", 5, "expected ',' or ']'")]
    [InlineData("{\"a\": 01}", 7, "leading zeros")]
    [InlineData("{\"a\": 1.}", 8, "after the decimal point")]
    [InlineData("{\"a\": 1e}", 8, "exponent")]
    [InlineData("{\"a\": \"x}", 6, "unterminated string")]
    [InlineData("{\"a\": \"\\x\"}", 7, "invalid escape")]
    [InlineData("{\"a\": \"\\u12\"}", 7, "four hex digits")]
    [InlineData("{\"a\": 'x'}", 6, "expected a value")]
    [InlineData("{\"a\": True}", 6, "'True'")]
    [InlineData("{\"a\": 1} x", 9, "after the end")]
    [InlineData("{\"a\": \"line\nbreak\"}", 11, "line break inside a string")]
    public void Syntax_errors_have_positions(string text, int position, string message)
    {
        var e = Assert.Throws<JsonSyntaxException>(() => JsonReader.Parse(text));
        Assert.Equal(position, e.Position);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Deep_nesting_is_an_error_not_a_crash()
    {
        var text = new string('[', 100_000) + new string(']', 100_000);
        var e = Assert.Throws<JsonSyntaxException>(() => JsonReader.Parse(text));
        Assert.Contains("nesting deeper than", e.Message);
    }
}
