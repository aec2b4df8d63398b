namespace Blip2Compiler.Generation;

/// <summary>A decoding run larger than <see cref="DecodingLimits"/> allows, refused before any model work.</summary>
public sealed class DecodingTooLargeException(string quantity, long value, long limit, string? detail = null)
    : Blip2Exception($"{quantity} is {value}, more than the limit of {limit}{(detail is null ? "" : ": " + detail)}")
{
    /// <summary>What is too large, e.g. <c>num_beams</c> or <c>decoding rows (2 images × 100 beams)</c>.</summary>
    public string Quantity { get; } = quantity;

    public long Value { get; } = value;

    /// <summary>The bound it exceeds: a <see cref="DecodingLimits"/> constant, or the machine's memory in bytes.</summary>
    public long Limit { get; } = limit;
}
