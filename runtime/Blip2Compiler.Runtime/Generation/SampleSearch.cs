using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// Greedy search and multinomial sampling: Hugging Face's <c>_sample</c>. Each row picks its next token from the
/// processed scores (argmax, or a draw from their softmax); a row that produced EOS is finished and gets the pad id
/// from then on; the run stops at max_length or when every row is finished.
/// </summary>
internal static class SampleSearch
{
    public static GenerationResult Run(DecoderFactory factory, Tensor contextIds, GenerationPlan plan, LogitsProcessorList processors, Action<long[]>? onTokens = null)
    {
        var device = contextIds.device;
        var copies = plan.NumReturnSequences;
        var rows = contextIds.shape[0] * copies;
        var contextLength = plan.ContextLength;

        // Static buffer of every id so far: processors see a view of it, nothing is re-concatenated per step.
        var sequences = full(rows, plan.MaxLength, plan.PadTokenId ?? 0, ScalarType.Int64, device);
        sequences.narrow(1, 0, contextLength).copy_(contextIds.repeat_interleave(copies, 0));
        var unfinished = ones(rows, ScalarType.Bool, device);
        var eos = plan.EosTokenIds is { } ids ? tensor(ids, device: device) : null;
        using var generator = plan.DoSample ? SeededGenerator.For(plan.Seed, device) : null;

        using var session = Decoder.Open(factory, copies, plan, rows);
        var logits = session.Next(null);
        var length = contextLength;
        while (true)
        {
            Tensor nextLogits;
            using (NewDisposeScope())
            {
                var scores = processors.Process(sequences.narrow(1, 0, length), Decoder.Logits(logits, rows, device));
                var next = plan.DoSample
                    ? Sampling.Draw(scores.softmax(-1), 1, generator).squeeze(1)
                    : scores.argmax(-1);
                if (eos is not null) next = where(unfinished, next, plan.PadTokenId!.Value);
                sequences.select(1, length).copy_(next);
                length++;
                onTokens?.Invoke(next.cpu().data<long>().ToArray());

                if (length >= plan.MaxLength) break;
                if (eos is not null)
                {
                    unfinished.logical_and_(isin(next, eos).logical_not());
                    if (!unfinished.any().item<bool>()) break;   // the one host synchronisation per step
                }
                nextLogits = session.Next(next.unsqueeze(1)).MoveToOuterDisposeScope();
            }
            logits.Dispose();
            logits = nextLogits;
        }
        return GenerationResult.From(sequences.narrow(1, 0, length), contextLength, null);
    }
}
