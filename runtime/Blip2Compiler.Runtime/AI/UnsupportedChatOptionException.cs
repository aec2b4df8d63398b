namespace Blip2Compiler.AI;

/// <summary>
/// A <see cref="Microsoft.Extensions.AI.ChatOptions"/> setting BLIP-2's generation cannot honour (an OpenAI-style
/// frequency penalty, a JSON response format, a required tool call), refused before any model work rather than
/// silently answered without it.
/// </summary>
public sealed class UnsupportedChatOptionException(string option, object? value, string message) : Blip2Exception(message)
{
    /// <summary>The <see cref="Microsoft.Extensions.AI.ChatOptions"/> property, e.g. <c>FrequencyPenalty</c>.</summary>
    public string Option { get; } = option;

    /// <summary>The value it was given.</summary>
    public object? Value { get; } = value;
}
