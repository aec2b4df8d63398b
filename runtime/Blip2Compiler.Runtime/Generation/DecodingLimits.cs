namespace Blip2Compiler.Generation;

/// <summary>
/// Bounds on the size of one decoding run, checked before any model work (<see cref="DecodingTooLargeException"/>).
/// Hugging Face has none: a run it cannot hold fails deep inside torch, or takes the machine's memory first. These are
/// generous on purpose: each lies well above what any published BLIP-2 checkpoint can use.
/// </summary>
public static class DecodingLimits
{
    /// <summary>
    /// <c>num_beams</c> and <c>num_return_sequences</c>: at most 128. BLIP-2's own evaluations use 5 beams. Every beam
    /// is a row of the preallocated KV cache: OPT-2.7b takes 32 layers × 2 × 2,560 × 2 bytes = 328 KB per position in
    /// bfloat16, so 128 beams at its 2,048 positions hold 86 GB — most of an H200's 141 GB — and more cannot run to
    /// full length anywhere. (Unbounded, <c>--beams 100000</c> ran 104 s and took 6 GB on the tiny model before failing.)
    /// </summary>
    public const int MaxBeams = 128;

    /// <summary>
    /// Rows decoded together: inputs × <c>num_beams</c> (beam search) or inputs × <c>num_return_sequences</c>
    /// (greedy / sampling), at most 4,096: 32 batches of 128 beams; at OPT-2.7b's 328 KB per position a 70-position
    /// caption of 4,096 rows already needs 94 GB of cache.
    /// </summary>
    public const int MaxRows = 4096;

    /// <summary>
    /// Decoder positions (context + new tokens) of a language model without a position table (T5's relative
    /// positions have no limit of their own): at most 32,768, 16 times the longest table of a published BLIP-2
    /// language model (OPT's 2,048) and 64 times the 512 target tokens Flan-T5 was trained on.
    /// </summary>
    public const int MaxUnboundedPositions = 32768;
}
