namespace Blip2Compiler.Processing;

/// <summary>Texts that cannot be encoded with the options given: rows of different lengths without padding, padding
/// without a pad token, a <c>max_length</c> shorter than the special tokens every row needs.</summary>
public sealed class TextEncodingException(string option, string problem) : Blip2Exception($"{option}: {problem}")
{
    /// <summary>The option at fault, as Hugging Face names it (<c>padding</c>, <c>max_length</c>).</summary>
    public string Option { get; } = option;

    public string Problem { get; } = problem;
}
