using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

/// <summary>Plain host-side decoding loops, written independently of the engine, to check it against.</summary>
internal static class Reference
{
    public static Tensor Context(params long[][] rows) =>
        tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length });

    /// <summary>Greedy decoding of one row; <paramref name="process"/> rewrites the logits given the ids so far.</summary>
    public static List<long> Greedy(TrigramModel model, long[] context, int maxNew, long[]? eos = null,
        Func<List<long>, float[], float[]>? process = null)
    {
        var ids = context.ToList();
        for (var step = 0; step < maxNew; step++)
        {
            var scores = model.Logits(ids);
            if (process is not null) scores = process(ids, scores);
            var best = Array.IndexOf(scores, scores.Max());
            ids.Add(best);
            if (eos is not null && eos.Contains(best)) break;
        }
        return ids.Skip(context.Length).ToList();
    }

    /// <summary>Pads each row's new tokens with <paramref name="pad"/> to the longest row, as generate returns them.</summary>
    public static long[][] PadRows(IEnumerable<List<long>> rows, long pad)
    {
        var list = rows.ToList();
        var longest = list.Max(r => r.Count);
        return list.Select(r => r.Concat(Enumerable.Repeat(pad, longest - r.Count)).ToArray()).ToArray();
    }

    public static float[] RepetitionPenalty(List<long> ids, float[] logits, float penalty)
    {
        var result = (float[])logits.Clone();
        foreach (var id in ids.Distinct())
            result[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
        return result;
    }

    public static float[] NoRepeatNGram(List<long> ids, float[] logits, int n)
    {
        var result = (float[])logits.Clone();
        if (ids.Count < n) return result;
        var prefix = ids.Skip(ids.Count - (n - 1)).ToArray();
        for (var start = 0; start + n <= ids.Count; start++)
            if (ids.Skip(start).Take(n - 1).SequenceEqual(prefix))
                result[ids[start + n - 1]] = float.NegativeInfinity;
        return result;
    }

    /// <summary>
    /// Every finished hypothesis of a beam search — ends with EOS, or reaches <paramref name="maxNew"/> tokens — with
    /// Hugging Face's score: the float32 running sum of log-probabilities divided by new_tokens ^ length_penalty.
    /// Best first.
    /// </summary>
    public static List<(long[] Tokens, float Score)> AllHypotheses(TrigramModel model, long[] context, int maxNew, long eos, double lengthPenalty)
    {
        var found = new List<(long[], float)>();
        void Walk(List<long> ids, float sum)
        {
            var logProbs = model.LogProbs(ids);
            for (var token = 0; token < logProbs.Length; token++)
            {
                var next = new List<long>(ids) { token };
                var total = sum + logProbs[token];
                var generated = next.Count - context.Length;
                if (token == eos || generated == maxNew)
                    found.Add((next.Skip(context.Length).ToArray(), total / (float)Math.Pow(generated, lengthPenalty)));
                else
                    Walk(next, total);
            }
        }
        Walk(context.ToList(), 0f);
        return found.OrderByDescending(h => h.Item2).ToList();
    }
}
