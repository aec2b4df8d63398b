using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// Greedy search and multinomial sampling: Hugging Face's <c>_sample</c>. Each row picks its next token from the
/// processed scores (argmax, or a draw from their softmax); a row that produced EOS, or whose text now contains a
/// stop string, is finished and gets the pad id from then on; the run stops at max_length or when every row is
/// finished.
/// </summary>
internal static class SampleSearch
{
    public static GenerationResult Run(DecoderFactory factory, Tensor contextIds, GenerationPlan plan, LogitsProcessorList processors,
        StepBoundary steps = default, Action<long[]>? onTokens = null)
    {
        var device = contextIds.device;
        var copies = plan.NumReturnSequences;
        var rows = contextIds.shape[0] * copies;
        var contextLength = plan.ContextLength;
        var stops = plan.StopStrings;

        // Static buffer of every id so far: processors see a view of it, nothing is re-concatenated per step.
        // Hugging Face feeds finished rows the pad id (the first EOS id by default) only when an EOS id is set: a row
        // ended by a stop string alone goes on with real tokens until every row is done, and so it does here.
        var pad = plan.PadTokenId ?? 0;
        var sequences = full(rows, plan.MaxLength, pad, ScalarType.Int64, device);
        sequences.narrow(1, 0, contextLength).copy_(contextIds.repeat_interleave(copies, 0));
        var unfinished = ones(rows, ScalarType.Bool, device);
        var eos = plan.EosTokenIds is { } ids ? tensor(ids, device: device) : null;
        var canFinish = eos is not null || stops is not null;
        using var generator = plan.DoSample ? SeededGenerator.For(plan.Seed, device) : null;

        // output_scores: the chosen tokens' log-probabilities [rows, max new], and each row's count of real tokens.
        var tokenScores = plan.OutputScores ? zeros(rows, plan.MaxNewTokens, device: device) : null;
        var realTokens = plan.OutputScores ? zeros(rows, ScalarType.Int64, device) : null;
        // Stop strings: each row's generated ids on the host, until it finishes.
        var generated = stops is null ? null : Enumerable.Range(0, (int)rows).Select(_ => new List<long>()).ToArray();
        var done = stops is null ? null : new bool[rows];
        var eosSet = new HashSet<long>(plan.EosTokenIds ?? []);

        using var session = GenerationLoop.Open(factory, copies, plan, rows);
        steps.ThrowIfCancelled();
        var logits = session.Next(null);
        var length = contextLength;
        while (true)
        {
            Tensor nextLogits;
            using (NewDisposeScope())
            {
                var scores = processors.Process(sequences.narrow(1, 0, length), GenerationLoop.Logits(logits, rows, device));
                var next = plan.DoSample
                    ? Sampling.Draw(scores.softmax(-1), 1, generator).squeeze(1)
                    : scores.argmax(-1);
                if (eos is not null) next = where(unfinished, next, pad);
                if (tokenScores is not null)
                {
                    tokenScores.select(1, length - contextLength).copy_(scores.log_softmax(-1).gather(1, next.unsqueeze(1)).squeeze(1));
                    realTokens!.add_(unfinished.to(ScalarType.Int64));
                }
                sequences.select(1, length).copy_(next);
                length++;
                long[]? host = onTokens is not null || generated is not null ? next.cpu().data<long>().ToArray() : null;
                onTokens?.Invoke(host!);
                steps.Reached(length - contextLength);

                if (length >= plan.MaxLength) break;
                if (canFinish)
                {
                    if (eos is not null) unfinished.logical_and_(isin(next, eos).logical_not());
                    if (generated is not null && StopRows(stops!, eosSet, generated, done!, host!))
                        unfinished.logical_and_(tensor(done!, device: device).logical_not());
                    if (!unfinished.any().item<bool>()) break;   // the one host synchronisation per step
                }
                steps.ThrowIfCancelled();
                nextLogits = session.Next(next.unsqueeze(1)).MoveToOuterDisposeScope();
            }
            logits.Dispose();
            logits = nextLogits;
        }
        var result = GenerationResult.From(sequences.narrow(1, 0, length), contextLength, null);
        if (tokenScores is null) return result;
        var counts = realTokens!.cpu().data<long>().ToArray();
        var all = tokenScores.cpu();
        return result with { TokenScores = [.. counts.Select((n, r) => all[r].narrow(0, 0, n).data<float>().ToArray())] };
    }

    /// <summary>
    /// Adds this step's tokens to the rows that were still running and marks those whose text now contains a stop
    /// string, or that produced EOS, as done. True when a row stopped on a stop string this step.
    /// </summary>
    private static bool StopRows(StopStringCriteria stops, HashSet<long> eos, List<long>[] generated, bool[] done, long[] tokens)
    {
        var any = false;
        for (var r = 0; r < generated.Length; r++)
        {
            if (done[r]) continue;   // finished earlier: this step's token is the pad id
            generated[r].Add(tokens[r]);
            if (eos.Contains(tokens[r])) done[r] = true;
            else if (stops.IsMatched(generated[r])) done[r] = any = true;
        }
        return any;
    }
}
