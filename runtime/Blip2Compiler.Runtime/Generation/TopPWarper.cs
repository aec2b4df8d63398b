using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>TopPLogitsWarper</c> (nucleus): drops the least likely tokens whose cumulative probability stays at or below
/// 1 − top_p, always keeping the <c>minTokensToKeep</c> most likely ones.
/// </summary>
public sealed class TopPWarper(double topP, int minTokensToKeep = 1) : ILogitsProcessor
{
    public Tensor Process(Tensor contextIds, Tensor scores)
    {
        using var scope = NewDisposeScope();
        var (sorted, order) = scores.sort(descending: false);
        var cumulative = sorted.softmax(-1).cumsum(-1);
        var remove = cumulative <= 1 - topP;   // computed in double, as Python does, then compared in float32
        var keep = (int)Math.Min(minTokensToKeep, scores.shape[1]);
        remove.narrow(1, scores.shape[1] - keep, keep).fill_(false);
        var removeInVocabOrder = remove.scatter(1, order, remove);
        return scores.masked_fill(removeInVocabOrder, double.NegativeInfinity).MoveToOuterDisposeScope();
    }
}
