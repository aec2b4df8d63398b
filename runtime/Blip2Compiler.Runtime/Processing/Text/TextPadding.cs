namespace Blip2Compiler.Processing;

/// <summary>Hugging Face's <c>padding</c> strategies (<c>tokenization_utils_base.PaddingStrategy</c>).</summary>
public enum TextPadding
{
    /// <summary><c>"longest"</c> (<c>padding=True</c>): every row to the batch's longest.</summary>
    Longest,

    /// <summary><c>"max_length"</c>: every row to <c>max_length</c> (the tokenizer's <c>model_max_length</c> when not given).</summary>
    MaxLength,

    /// <summary><c>"do_not_pad"</c> (<c>padding=False</c>): rows keep their lengths.</summary>
    DoNotPad,
}
