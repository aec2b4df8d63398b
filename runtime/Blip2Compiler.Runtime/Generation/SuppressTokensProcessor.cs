using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary><c>SuppressTokensLogitsProcessor</c>: the listed ids score −inf at every step (ids outside the vocabulary match nothing).</summary>
public sealed class SuppressTokensProcessor(IReadOnlyList<long> suppressTokens) : ILogitsProcessor
{
    private readonly long[] _ids = [.. suppressTokens];

    public Tensor Process(Tensor contextIds, Tensor scores) => Suppress(scores, _ids);

    // Hugging Face builds isin(arange(vocab), ids) and fills where it holds; filling the listed columns is the same
    // result without the vocabulary-wide mask: at batch 8 × 50,304 the mask path took ~1.5 ms a row per step, 14 ms
    // of a 73 ms engine step at 8 clients (serve-load, mid, min_tokens 30), the column fill ~0.05 ms.
    internal static Tensor Suppress(Tensor scores, long[] ids)
    {
        var vocab = scores.shape[1];
        var inside = Array.FindAll(ids, id => id >= 0 && id < vocab);
        if (inside.Length == 0) return scores;
        using var columns = tensor(inside, device: scores.device);
        return scores.index_fill(1, columns, double.NegativeInfinity);
    }
}
