namespace Blip2Compiler.Models;

/// <summary>
/// A tensor given to a model has a shape, dtype or values the model cannot take (checked before any model work, so
/// that libtorch never sees it): pixel values that are not [batch, 3, image_size, image_size], token ids outside the
/// vocabulary, an attention mask that is not 0/1.
/// </summary>
public sealed class InvalidModelInputException(string input, string problem)
    : Blip2Exception($"{input}: {problem}")
{
    /// <summary>The argument at fault, e.g. <c>pixel_values</c> or <c>input_ids</c>.</summary>
    public string Input { get; } = input;

    public string Problem { get; } = problem;
}
