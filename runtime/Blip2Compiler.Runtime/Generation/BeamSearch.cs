using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// Beam search (and beam sampling): a port of Hugging Face 5.x's vectorised <c>_beam_search</c>. Per input it keeps
/// <c>num_beams</c> running hypotheses and <c>num_beams</c> finished ones in static [batch, beams, max_length]
/// tensors. Each step scores all beams × vocabulary continuations (log-softmax, processors, plus the beam's score),
/// keeps the top <c>max(2, 1 + #eos) × num_beams</c>, continues the best non-finished ones, and files those that hit
/// EOS, a stop string or max_length among the finished, scored <c>sum_logprobs / generated_len ^ length_penalty</c> where
/// generated_len counts the new tokens including the final one.
/// </summary>
internal static class BeamSearch
{
    private const float Dropped = -1.0e9f;

    public static GenerationResult Run(DecoderFactory factory, Tensor contextIds, GenerationPlan plan, LogitsProcessorList processors, StepBoundary steps = default)
    {
        var device = contextIds.device;
        var batch = contextIds.shape[0];
        var beams = plan.NumBeams;
        var rows = batch * beams;
        var promptLength = plan.ContextLength;
        var maxLength = plan.MaxLength;
        var lengthPenalty = plan.LengthPenalty;
        var earlyStoppingTrue = plan.EarlyStopping.IsTrue;
        var eos = plan.EosTokenIds is { } ids ? tensor(ids, device: device) : null;
        var beamsToKeep = Math.Max(2, 1 + (plan.EosTokenIds?.Length ?? 0)) * beams;
        using var generator = plan.DoSample ? SeededGenerator.For(plan.Seed, device) : null;

        // Only the first num_beams of the kept candidates may be filed as finished; the rest only keep beams alive.
        var topBeamMask = arange(beamsToKeep, device: device).lt(beams).unsqueeze(0);
        var batchOffset = (arange(batch, device: device) * beams).unsqueeze(1);

        // Hugging Face fills with `pad_token_id or eos_token_id[0]` (so pad id 0 yields the EOS id) when EOS is set, else −1.
        var fill = plan.EosTokenIds is { } e ? (plan.PadTokenId is { } pad && pad != 0 ? pad : e[0]) : -1L;
        var running = full(new long[] { batch, beams, maxLength }, fill, ScalarType.Int64, device);
        running.narrow(2, 0, promptLength).copy_(contextIds.repeat_interleave(beams, 0).view(batch, beams, promptLength));
        var finished = running.clone();

        // The first beam starts at 0 and the others at −1e9, so the first step does not pick the same token per beam.
        var runningScores = zeros(batch, beams, device: device);
        runningScores.narrow(1, 1, beams - 1).fill_(Dropped);
        var finishedScores = full(batch, beams, Dropped, device: device);
        var isFinished = zeros(batch, beams, ScalarType.Bool, device);
        var canImprove = ones(batch, 1, ScalarType.Bool, device);

        // Source beam (flat row) of each generated token; −1 where none (yet).
        var runningOrigins = full(new long[] { batch, beams, maxLength - promptLength }, -1L, ScalarType.Int64, device);
        var finishedOrigins = runningOrigins.clone();
        // output_scores: each generated token's processed log-probability, gathered along with the origins.
        var runningTokenScores = plan.OutputScores ? zeros(new long[] { batch, beams, maxLength - promptLength }, device: device) : null;
        var finishedTokenScores = runningTokenScores?.clone();

        using var session = GenerationLoop.Open(factory, beams, plan, rows);
        steps.ThrowIfCancelled();
        var logits = session.Next(null);
        var length = promptLength;
        while (true)
        {
            Tensor nextLogits;
            using (NewDisposeScope())
            {
                // b. log-probabilities, processed, added to each beam's score
                var flatRunning = running.narrow(2, 0, length).reshape(rows, length);
                var logProbs = GenerationLoop.Logits(logits, rows, device).log_softmax(-1);
                logProbs = processors.Process(flatRunning, logProbs);
                var vocab = logProbs.shape[1];
                var accumulated = (logProbs.view(batch, beams, vocab) + runningScores.unsqueeze(2)).reshape(batch, beams * vocab);

                // c. top-K continuations over all beams
                Tensor topScores, topIndices;
                if (plan.DoSample)
                {
                    topIndices = Sampling.Draw(accumulated.softmax(-1), beamsToKeep, generator);
                    topScores = accumulated.gather(1, topIndices);
                }
                else (topScores, topIndices) = accumulated.topk(beamsToKeep);
                var sourceBeam = topIndices.div(vocab, RoundingMode.floor);
                var tokens = topIndices.remainder(vocab);
                var topSequences = Gather(running, sourceBeam);
                topSequences.select(2, length).copy_(tokens);
                var topOrigins = Gather(runningOrigins, sourceBeam);
                topOrigins.select(2, length - promptLength).copy_(sourceBeam + batchOffset);
                Tensor? topTokenScores = null;
                if (runningTokenScores is not null)
                {
                    topTokenScores = Gather(runningTokenScores, sourceBeam);
                    topTokenScores.select(2, length - promptLength).copy_(logProbs.view(batch, beams * vocab).gather(1, topIndices));
                }

                // d. which candidates end here (Hugging Face's stopping criteria on them): max_length reached, an EOS
                // token, or a stop string in the candidate's generated text
                var hitsStop = length + 1 >= maxLength
                    ? ones(batch, beamsToKeep, ScalarType.Bool, device)
                    : eos is not null ? isin(tokens, eos) : zeros(batch, beamsToKeep, ScalarType.Bool, device);
                if (plan.StopStrings is { } stops && length + 1 < maxLength)
                    hitsStop = hitsStop.logical_or(StopMatches(stops, topSequences.narrow(2, promptLength, length + 1 - promptLength), device));

                // e. the best num_beams candidates that have not ended continue
                var continuing = topScores + hitsStop.to(ScalarType.Float32) * Dropped;
                var keep = continuing.topk(beams).indexes;
                GenerationLoop.Keep(ref running, Gather(topSequences, keep));
                GenerationLoop.Keep(ref runningScores, Gather(continuing, keep));
                GenerationLoop.Keep(ref runningOrigins, Gather(topOrigins, keep));
                if (topTokenScores is not null) runningTokenScores = Kept(runningTokenScores!, Gather(topTokenScores, keep));

                // f. file the candidates that ended among the finished hypotheses if they score better
                var justFinished = hitsStop.logical_and(topBeamMask);
                var penalised = topScores / Math.Pow(length + 1 - promptLength, lengthPenalty);
                if (earlyStoppingTrue) penalised = penalised + isFinished.all(-1, keepdim: true).to(ScalarType.Float32) * Dropped;
                penalised = penalised + canImprove.logical_not().to(ScalarType.Float32) * Dropped;
                penalised = penalised + justFinished.logical_not().to(ScalarType.Float32) * Dropped;
                var mergedScores = cat([finishedScores, penalised], 1);
                var best = mergedScores.topk(beams).indexes;
                GenerationLoop.Keep(ref finished, Gather(cat([finished, topSequences], 1), best));
                GenerationLoop.Keep(ref finishedScores, Gather(mergedScores, best));
                GenerationLoop.Keep(ref finishedOrigins, Gather(cat([finishedOrigins, topOrigins], 1), best));
                if (topTokenScores is not null) finishedTokenScores = Kept(finishedTokenScores!, Gather(cat([finishedTokenScores!, topTokenScores], 1), best));
                GenerationLoop.Keep(ref isFinished, Gather(cat([isFinished, justFinished], 1), best));

                // g. stop, or reorder the cache to the surviving beams and decode their last tokens
                var cacheRows = runningOrigins.select(2, length - promptLength).reshape(rows);
                length++;
                steps.Reached(length - promptLength);
                GenerationLoop.Keep(ref canImprove, EarlyStopHeuristic(canImprove, runningScores, finishedScores, isFinished,
                    length, maxLength, promptLength, plan.EarlyStopping, lengthPenalty));
                if (length >= maxLength) break;
                var unfinished = canImprove.any().logical_and(hitsStop.all().logical_not());
                if (earlyStoppingTrue) unfinished = unfinished.logical_and(isFinished.all().logical_not());
                if (!unfinished.item<bool>()) break;   // the one host synchronisation per step

                steps.ThrowIfCancelled();
                session.Reorder(cacheRows);
                nextLogits = session.Next(running.select(2, length - 1).reshape(rows, 1)).MoveToOuterDisposeScope();
            }
            logits.Dispose();
            logits = nextLogits;
        }

        // 5. the best num_return_sequences finished hypotheses per input, cropped to the longest one
        var returned = plan.NumReturnSequences;
        var outSequences = finished.narrow(1, 0, returned).reshape(batch * returned, maxLength);
        var outOrigins = finishedOrigins.narrow(1, 0, returned).reshape(batch * returned, maxLength - promptLength);
        var generated = outOrigins.ne(-1).sum(1).max().item<long>();
        var scores = finishedScores.narrow(1, 0, returned).reshape(batch * returned).cpu().data<float>().ToArray();
        var result = GenerationResult.From(outSequences.narrow(1, 0, promptLength + generated), promptLength, scores);
        if (finishedTokenScores is null) return result;
        var lengths = outOrigins.ne(-1).sum(1).cpu().data<long>().ToArray();
        var tokenScores = finishedTokenScores.narrow(1, 0, returned).reshape(batch * returned, maxLength - promptLength).cpu();
        return result with { TokenScores = [.. lengths.Select((n, r) => tokenScores[r].narrow(0, 0, n).data<float>().ToArray())] };
    }

    private static Tensor Kept(Tensor slot, Tensor value)
    {
        GenerationLoop.Keep(ref slot, value);
        return slot;
    }

    /// <summary>Which candidates' generated ids [batch, candidates, generated] decode to a text with a stop string.</summary>
    private static Tensor StopMatches(StopStringCriteria stops, Tensor generated, Device device)
    {
        var (batch, candidates, length) = (generated.shape[0], generated.shape[1], (int)generated.shape[2]);
        var ids = generated.cpu().data<long>().ToArray();
        var matched = new bool[batch * candidates];
        for (var c = 0; c < matched.Length; c++) matched[c] = stops.IsMatched(new ArraySegment<long>(ids, c * length, length));
        return tensor(matched, device: device).view(batch, candidates);
    }

    /// <summary>
    /// Hugging Face's <c>_check_early_stop_heuristic</c>: a batch item keeps searching while its best running beam,
    /// scored at the best length it could still reach, beats its worst finished hypothesis (or a slot is still empty).
    /// </summary>
    private static Tensor EarlyStopHeuristic(Tensor canImprove, Tensor runningScores, Tensor finishedScores, Tensor isFinished,
        int length, int maxLength, int promptLength, EarlyStopping earlyStopping, double lengthPenalty)
    {
        var bestLength = earlyStopping.IsNever && lengthPenalty > 0.0 ? maxLength - promptLength : length - promptLength;
        var bestRunning = runningScores.narrow(1, 0, 1) / Math.Pow(bestLength, lengthPenalty);
        var worstFinished = where(isFinished, finishedScores.min(1, keepdim: true).values, Dropped);
        return canImprove.logical_and(bestRunning.gt(worstFinished).any(-1, keepdim: true));
    }

    /// <summary>Hugging Face's <c>_gather_beams</c>: picks, per batch item, the beams at <paramref name="indices"/> [batch, n].</summary>
    private static Tensor Gather(Tensor tensor, Tensor indices)
    {
        while (indices.dim() < tensor.dim()) indices = indices.unsqueeze(-1);
        return tensor.take_along_dim(indices, 1);
    }
}
