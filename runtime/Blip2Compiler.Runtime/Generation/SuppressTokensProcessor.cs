using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary><c>SuppressTokensLogitsProcessor</c>: the listed ids score −inf at every step (ids outside the vocabulary match nothing).</summary>
public sealed class SuppressTokensProcessor(IReadOnlyList<long> suppressTokens) : ILogitsProcessor
{
    private readonly long[] _ids = [.. suppressTokens];

    public Tensor Process(Tensor contextIds, Tensor scores) => Suppress(scores, _ids);

    internal static Tensor Suppress(Tensor scores, long[] ids)
    {
        using var scope = NewDisposeScope();
        var vocab = arange(scores.shape[1], device: scores.device);
        var mask = isin(vocab, tensor(ids, device: scores.device));
        return scores.masked_fill(mask, double.NegativeInfinity).MoveToOuterDisposeScope();
    }
}
