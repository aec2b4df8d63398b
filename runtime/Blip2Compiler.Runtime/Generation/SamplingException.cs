namespace Blip2Compiler.Generation;

/// <summary>
/// Sampling cannot draw: after the logits processors fewer tokens have a probability than must be drawn (all of a
/// row's scores are −inf, e.g. min_new_tokens bans EOS while no_repeat_ngram_size bans everything else, or beam
/// sampling must draw 2 × num_beams candidates from fewer). Hugging Face's <c>torch.multinomial</c> fails there too.
/// </summary>
public sealed class SamplingException(long samples, string reason)
    : Blip2Exception($"sampling cannot draw {samples} token{(samples == 1 ? "" : "s")} per row: {reason}; " +
        "loosen no_repeat_ngram_size, top_k / top_p, min_new_tokens or num_beams")
{
    /// <summary>Tokens each row had to draw (1 for sampling, the kept candidates for beam sampling).</summary>
    public long Samples { get; } = samples;
}
