namespace Blip2Compiler.Generation;

/// <summary>
/// Hugging Face's <c>BeamHypotheses</c>: the best <c>num_beams</c> finished hypotheses of one input (of one group,
/// in group beam search), scored <c>sum_logprobs / generated_len ^ length_penalty</c> in double precision as Python
/// does, and its <c>is_done</c> rule for each <c>early_stopping</c> mode.
/// </summary>
internal sealed class BeamHypotheses(int numBeams, double lengthPenalty, EarlyStopping earlyStopping, int maxLength)
{
    public sealed record Hypothesis(double Score, IReadOnlyList<long> Ids, IReadOnlyList<float> TokenScores);

    private readonly List<Hypothesis> _beams = [];
    private double _worstScore = 1e9;

    public IReadOnlyList<Hypothesis> Beams => _beams;

    public void Add(IReadOnlyList<long> ids, double sumLogProbs, IReadOnlyList<float> tokenScores, int generatedLength)
    {
        var score = sumLogProbs / Math.Pow(generatedLength, lengthPenalty);
        if (_beams.Count < numBeams || score > _worstScore)
        {
            _beams.Add(new Hypothesis(score, [.. ids], [.. tokenScores]));
            if (_beams.Count > numBeams)
            {
                // sorted([(s, idx) ...]): the lowest score goes (the first of equals), the next lowest is the new worst.
                var order = _beams.Select((b, i) => (b.Score, i)).OrderBy(x => x.Score).ThenBy(x => x.i).ToList();
                _beams.RemoveAt(order[0].i);
                _worstScore = order[1].Score;
            }
            else _worstScore = Math.Min(score, _worstScore);
        }
    }

    /// <summary>No running beam can still improve the hypotheses (<paramref name="currentLength"/> counts the context).</summary>
    public bool IsDone(double bestSumLogProbs, int currentLength, int promptLength)
    {
        if (_beams.Count < numBeams) return false;
        if (earlyStopping.IsTrue) return true;
        // false: a heuristic at the current length; "never": with a positive length penalty the best attainable
        // score is at max_length.
        var length = earlyStopping.IsNever && lengthPenalty > 0.0 ? maxLength - promptLength : currentLength - promptLength;
        var highestAttainable = bestSumLogProbs / Math.Pow(length, lengthPenalty);
        return _worstScore >= highestAttainable;
    }
}
