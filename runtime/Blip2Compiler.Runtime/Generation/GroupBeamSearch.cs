using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// Diverse beam search: a port of Hugging Face's <c>_group_beam_search</c> with its <c>BeamSearchScorer</c> and
/// <c>BeamHypotheses</c> (transformers 4.x; 5.x moved it to the Hub as transformers-community/group-beam-search, the
/// same code). The <c>num_beams</c> beams of an input form <c>num_beam_groups</c> groups of equal size, searched one
/// after another within each step: a group's log-probabilities first lose the <see cref="HammingDiversityProcessor"/>
/// penalty for tokens earlier groups chose this step, then go through the usual processors; each group keeps its own
/// <c>group_size</c> finished hypotheses, and the best <c>num_return_sequences</c> of all groups are returned.
/// </summary>
/// <remarks>
/// The per-step bookkeeping is host-side, as in the reference (a scorer loop over inputs and candidates): decoding
/// runs are a few inputs of a few beams, and each step already costs a model forward.
/// </remarks>
internal static class GroupBeamSearch
{
    public static GenerationResult Run(DecoderFactory factory, Tensor contextIds, GenerationPlan plan, LogitsProcessorList processors, StepBoundary steps = default)
    {
        var device = contextIds.device;
        var batch = (int)contextIds.shape[0];
        var beams = plan.NumBeams;
        var groups = plan.NumBeamGroups;
        var groupSize = beams / groups;
        var rows = batch * beams;
        var promptLength = plan.ContextLength;
        var eos = plan.EosTokenIds;
        var eosSet = new HashSet<long>(eos ?? []);
        var pad = plan.PadTokenId ?? 0;
        var hamming = new HammingDiversityProcessor(plan.DiversityPenalty, beams, groups);
        var candidates = Math.Max(2, 1 + (eos?.Length ?? 0)) * groupSize;

        // Each row's ids (context + generated) and, for output_scores, its tokens' processed log-probabilities.
        var context = contextIds.cpu().data<long>().ToArray();
        var ids = new List<long>[rows];
        var tokenScores = new List<float>[rows];
        for (var r = 0; r < rows; r++)
        {
            var input = r / beams;
            ids[r] = [.. context.AsSpan(input * promptLength, promptLength).ToArray()];
            tokenScores[r] = [];
        }
        // The first beam of each group starts at 0, the others at −1e9, so a group's beams do not all pick the same token.
        var beamScores = new float[rows];
        for (var r = 0; r < rows; r++) beamScores[r] = r % groupSize == 0 ? 0f : -1e9f;
        var hypotheses = new BeamHypotheses[batch * groups];
        for (var h = 0; h < hypotheses.Length; h++) hypotheses[h] = new BeamHypotheses(groupSize, plan.LengthPenalty, plan.EarlyStopping, plan.MaxLength);
        var done = new bool[batch * groups];

        using var session = GenerationLoop.Open(factory, beams, plan, rows);
        steps.ThrowIfCancelled();
        var logits = session.Next(null);
        var length = promptLength;
        while (true)
        {
            Tensor nextLogits;
            using (NewDisposeScope())
            {
                var all = GenerationLoop.Logits(logits, rows, device);
                var currentTokens = zeros(rows, ScalarType.Int64, device);
                var currentHost = new long[rows];
                var reordering = new long[rows];
                var nextIds = new List<long>[rows];
                var nextTokenScores = new List<float>[rows];
                for (var g = 0; g < groups; g++)
                {
                    // The group's rows of every input, in order: input b's beams g·size … (g+1)·size − 1.
                    var groupRows = new long[batch * groupSize];
                    for (var b = 0; b < batch; b++)
                        for (var i = 0; i < groupSize; i++) groupRows[b * groupSize + i] = b * beams + g * groupSize + i;
                    var index = tensor(groupRows, device: device);
                    var groupIds = tensor(groupRows.SelectMany(r => ids[r]).ToArray(), new long[] { groupRows.Length, length }, device: device);

                    var logProbs = all.index_select(0, index).log_softmax(-1);
                    var processed = processors.Process(groupIds, hamming.Process(logProbs, currentTokens, g));
                    var vocab = processed.shape[1];
                    var running = tensor(groupRows.Select(r => beamScores[r]).ToArray(), device: device);
                    var accumulated = (processed + running.unsqueeze(1)).view(batch, groupSize * vocab);
                    var (topScores, topIndices) = accumulated.topk(candidates, sorted: true);
                    var hostScores = topScores.cpu().data<float>().ToArray();
                    var hostIndices = topIndices.cpu().data<long>().ToArray();
                    var hostTokenScores = plan.OutputScores
                        ? processed.view(batch, groupSize * vocab).gather(1, topIndices).cpu().data<float>().ToArray()
                        : null;

                    // BeamSearchScorer.process, per input of this group.
                    var chosen = new (float Score, long Token, int Source, float TokenScore)[batch * groupSize];
                    for (var b = 0; b < batch; b++)
                    {
                        var h = b * groups + g;
                        if (done[h])
                        {
                            // A finished group feeds pad tokens from the first row of the group's batch, as Hugging Face's scorer does.
                            for (var i = 0; i < groupSize; i++) chosen[b * groupSize + i] = (0f, pad, 0, 0f);
                            continue;
                        }
                        var filled = 0;
                        for (var rank = 0; rank < candidates && filled < groupSize; rank++)
                        {
                            var at = b * candidates + rank;
                            var token = hostIndices[at] % vocab;
                            var source = b * groupSize + (int)(hostIndices[at] / vocab);
                            var tokenScore = hostTokenScores?[at] ?? 0f;
                            if (eosSet.Contains(token))
                            {
                                // Only the first group_size candidates may end a hypothesis.
                                if (rank >= groupSize) continue;
                                var row = (int)groupRows[source];
                                hypotheses[h].Add(ids[row], hostScores[at], [.. tokenScores[row], tokenScore], length + 1 - promptLength);
                            }
                            else chosen[b * groupSize + filled++] = (hostScores[at], token, source, tokenScore);
                        }
                        var bestCandidate = hostScores.AsSpan(b * candidates, candidates).ToArray().Max();
                        done[h] = done[h] || hypotheses[h].IsDone(bestCandidate, length + 1, promptLength);
                    }

                    for (var j = 0; j < chosen.Length; j++)
                    {
                        var row = (int)groupRows[j];
                        var source = (int)groupRows[chosen[j].Source];
                        nextIds[row] = [.. ids[source], chosen[j].Token];
                        nextTokenScores[row] = [.. tokenScores[source], chosen[j].TokenScore];
                        beamScores[row] = chosen[j].Score;
                        currentHost[row] = chosen[j].Token;
                        reordering[row] = source;
                    }
                    currentTokens.index_copy_(0, index, tensor(groupRows.Select(r => currentHost[r]).ToArray(), device: device));
                }
                ids = nextIds;
                tokenScores = nextTokenScores;
                length++;
                steps.Reached(length - promptLength);

                // beam_scorer.is_done, or every row meets a stopping criterion (max_length, EOS last, a stop string).
                if (done.All(d => d) || length >= plan.MaxLength) break;
                if (eos is not null && currentHost.All(eosSet.Contains)) break;
                if (plan.StopStrings is { } stops && ids.All(row => stops.IsMatched(row.Skip(promptLength)))) break;

                steps.ThrowIfCancelled();
                session.Reorder(tensor(reordering, device: device));
                nextLogits = session.Next(currentTokens.unsqueeze(1)).MoveToOuterDisposeScope();
            }
            logits.Dispose();
            logits = nextLogits;
        }

        // BeamSearchScorer.finalize: running beams of unfinished groups join their group's hypotheses; the best
        // num_return_sequences of all groups of an input are returned, best first.
        for (var h = 0; h < hypotheses.Length; h++)
        {
            if (done[h]) continue;
            for (var i = 0; i < groupSize; i++)
            {
                var row = h * groupSize + i;
                hypotheses[h].Add(ids[row], beamScores[row], tokenScores[row], ids[row].Count - promptLength);
            }
        }
        var returned = plan.NumReturnSequences;
        var best = new List<BeamHypotheses.Hypothesis>();
        for (var b = 0; b < batch; b++)
        {
            // Python's stable sort ascending, then pop() from the end: among equal scores the later one comes first.
            var sorted = Enumerable.Range(b * groups, groups).SelectMany(h => hypotheses[h].Beams).OrderBy(x => x.Score).ToList();
            for (var j = 0; j < returned; j++)
            {
                best.Add(sorted[^1]);
                sorted.RemoveAt(sorted.Count - 1);
            }
        }

        // Rows padded to the longest, EOS (the first id) after each hypothesis that ended before max_length.
        var maxLength = Math.Min(best.Max(x => x.Ids.Count) + 1, plan.MaxLength);
        var sequences = new long[best.Count][];
        for (var r = 0; r < best.Count; r++)
        {
            var row = Enumerable.Repeat(pad, maxLength).ToArray();
            var hyp = best[r].Ids;
            for (var k = 0; k < hyp.Count && k < maxLength; k++) row[k] = hyp[k];
            if (eos is not null && hyp.Count < maxLength) row[hyp.Count] = eos[0];
            sequences[r] = row;
        }
        // (Hugging Face fills with pad only when the hypotheses' lengths differ; when they do not, every row ends at
        // max_length or carries an EOS, so no filler is left either way.)
        return new GenerationResult
        {
            Sequences = sequences,
            NewTokens = [.. sequences.Select(s => s[promptLength..])],
            SequenceScores = [.. best.Select(x => (float)x.Score)],
            TokenScores = plan.OutputScores ? [.. best.Select(x => x.TokenScores.ToArray())] : null,
        };
    }
}
