using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>MinLengthLogitsProcessor</c> and <c>MinNewTokensLengthLogitsProcessor</c>: EOS scores are −inf while the
/// context is shorter than <c>minLength</c> (for min_new_tokens: while fewer than that many tokens follow the first
/// <c>promptLength</c> ids).
/// </summary>
public sealed class MinLengthProcessor(int minLength, IReadOnlyList<long> eosTokenIds, int promptLength = 0) : ILogitsProcessor
{
    private readonly long[] _eos = [.. eosTokenIds];

    public Tensor Process(Tensor contextIds, Tensor scores)
    {
        if (contextIds.shape[1] - promptLength >= minLength) return scores;
        return SuppressTokensProcessor.Suppress(scores, _eos);
    }
}
