using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>RepetitionPenaltyLogitsProcessor</c>: every token present in the context (prompt included for decoder-only
/// models) gets its score divided by the penalty when positive and multiplied by it when negative, once per token.
/// </summary>
public sealed class RepetitionPenaltyProcessor(double penalty) : ILogitsProcessor
{
    public Tensor Process(Tensor contextIds, Tensor scores)
    {
        using var score = scores.gather(1, contextIds);
        using var penalized = where(score < 0, score * penalty, score / penalty);
        // Scatter of duplicates writes the same value, so repeated tokens are penalized once.
        return scores.scatter(1, contextIds, penalized);
    }
}
