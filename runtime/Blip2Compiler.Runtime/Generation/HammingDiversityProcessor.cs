using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>HammingDiversityLogitsProcessor</c>, for group beam search: within one step, the scores of group
/// <c>g</c>'s beams lose <c>diversity_penalty</c> × (how many beams of groups 0..g−1 of the same input chose the
/// token this step). Group 0 is left as it is.
/// </summary>
public sealed class HammingDiversityProcessor
{
    private readonly double _penalty;
    private readonly int _beams;
    private readonly int _groupSize;

    public HammingDiversityProcessor(double diversityPenalty, int numBeams, int numBeamGroups)
    {
        if (!(diversityPenalty > 0) || !double.IsFinite(diversityPenalty))
            throw new InvalidGenerationOptionException("diversity_penalty", diversityPenalty, "must be a number above 0");
        if (numBeamGroups < 2 || numBeams % numBeamGroups != 0)
            throw new InvalidGenerationOptionException("num_beam_groups", numBeamGroups, $"must be at least 2 and divide `num_beams` ({numBeams})");
        _penalty = diversityPenalty;
        _beams = numBeams;
        _groupSize = numBeams / numBeamGroups;
    }

    /// <summary>
    /// <paramref name="scores"/> [inputs × group size, vocab] of group <paramref name="group"/>;
    /// <paramref name="currentTokens"/> [inputs × num_beams]: this step's tokens (those of groups before
    /// <paramref name="group"/> are set).
    /// </summary>
    public Tensor Process(Tensor scores, Tensor currentTokens, int group)
    {
        if (group == 0) return scores;
        using var scope = NewDisposeScope();
        var inputs = currentTokens.shape[0] / _beams;
        var vocab = scores.shape[1];
        // Counts per input of the tokens earlier groups chose: [inputs, vocab].
        var earlier = currentTokens.view(inputs, _beams).narrow(1, 0, group * _groupSize);
        var counts = zeros(inputs, vocab, scores.dtype, scores.device)
            .scatter_add_(1, earlier.to(scores.device), ones(earlier.shape, scores.dtype, scores.device));
        var penalty = counts.repeat_interleave(_groupSize, 0) * _penalty;
        return (scores - penalty).MoveToOuterDisposeScope();
    }
}
