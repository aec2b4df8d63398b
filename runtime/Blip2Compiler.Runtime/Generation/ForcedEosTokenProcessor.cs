using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>ForcedEOSTokenLogitsProcessor</c>: when the ids so far are <c>max_length − 1</c> long, so the next token is
/// the last, every score is −inf but the forced ids', which are 0.
/// </summary>
public sealed class ForcedEosTokenProcessor(int maxLength, IReadOnlyList<long> eosTokenIds) : ILogitsProcessor
{
    private readonly long[] _ids = [.. eosTokenIds];

    public Tensor Process(Tensor contextIds, Tensor scores) =>
        contextIds.shape[1] == maxLength - 1 ? Force(scores, _ids, "forced_eos_token_id") : scores;

    internal static Tensor Force(Tensor scores, long[] ids, string option)
    {
        foreach (var id in ids)
            if (id < 0 || id >= scores.shape[1])
                throw new InvalidGenerationOptionException(option, id, $"is outside the vocabulary (ids 0 to {scores.shape[1] - 1})");
        using var scope = NewDisposeScope();
        var forced = full_like(scores, double.NegativeInfinity);
        forced.index_fill_(1, tensor(ids, device: scores.device), 0.0);
        return forced.MoveToOuterDisposeScope();
    }
}
