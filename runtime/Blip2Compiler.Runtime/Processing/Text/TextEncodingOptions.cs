namespace Blip2Compiler.Processing;

/// <summary>
/// The text options of Hugging Face's <c>Blip2Processor(text=…, padding=…, truncation=…, max_length=…)</c>, passed to
/// its tokenizer: they apply to each text's own encoding (special tokens included); the processor then puts
/// <c>num_query_tokens</c> image tokens in front of every row, so a row is <see cref="MaxLength"/> plus the image
/// tokens long.
/// </summary>
public sealed record TextEncodingOptions
{
    public TextPadding Padding { get; init; } = TextPadding.Longest;

    /// <summary><c>truncation=True</c> (<c>longest_first</c>, the only strategy for one text): text ids beyond
    /// <see cref="MaxLength"/> (or <c>model_max_length</c>) are cut, on the tokenizer's truncation side.</summary>
    public bool Truncation { get; init; }

    /// <summary><c>max_length</c>; null: the tokenizer's <c>model_max_length</c> where padding or truncation needs one.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Where padding goes; null: the tokenizer's <c>padding_side</c> (Hugging Face's default: right).</summary>
    public PaddingSide? PaddingSide { get; init; }

    /// <summary>The processor's defaults for a batch that must be a tensor: <c>padding="longest"</c>.</summary>
    public static TextEncodingOptions Default { get; } = new();
}
