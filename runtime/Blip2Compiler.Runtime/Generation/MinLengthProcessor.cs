using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>MinLengthLogitsProcessor</c> and <c>MinNewTokensLengthLogitsProcessor</c>: EOS scores are −inf while the
/// context is shorter than <c>minLength</c> (for min_new_tokens: while fewer than that many tokens follow the first
/// <c>promptLength</c> ids).
/// </summary>
public sealed class MinLengthProcessor(int minLength, IReadOnlyList<long> eosTokenIds, int promptLength = 0) : ILogitsProcessor
{
    public Tensor Process(Tensor contextIds, Tensor scores)
    {
        if (contextIds.shape[1] - promptLength >= minLength) return scores;
        using var eos = tensor(eosTokenIds.ToArray(), device: scores.device);
        using var vocab = arange(scores.shape[1], device: scores.device);
        using var isEos = isin(vocab, eos);
        return scores.masked_fill(isEos, double.NegativeInfinity);
    }
}
