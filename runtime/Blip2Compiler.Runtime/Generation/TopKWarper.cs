using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary><c>TopKLogitsWarper</c>: keeps the k best scores (ties with the k-th included), −inf elsewhere.</summary>
public sealed class TopKWarper(int topK, int minTokensToKeep = 1) : ILogitsProcessor
{
    private readonly int _k = Math.Max(topK, minTokensToKeep);

    public Tensor Process(Tensor contextIds, Tensor scores)
    {
        using var scope = NewDisposeScope();
        var k = (int)Math.Min(_k, scores.shape[1]);
        var kth = scores.topk(k).values.narrow(1, k - 1, 1);
        return scores.masked_fill(scores < kth, double.NegativeInfinity).MoveToOuterDisposeScope();
    }
}
