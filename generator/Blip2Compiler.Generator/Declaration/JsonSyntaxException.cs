using System;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>A JSON syntax error at a character offset of the text.</summary>
internal sealed class JsonSyntaxException : Exception
{
    public JsonSyntaxException(string message, int position) : base(message) => Position = position;

    public int Position { get; }
}
