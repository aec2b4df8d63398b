using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>NoRepeatNGramLogitsProcessor</c>: bans every token that would complete an n-gram already present in the context
/// (prompt included for decoder-only models). Vectorised as Hugging Face 5.x does it: the last n−1 ids are compared
/// against every window of the context, and a matching window bans its own last token.
/// </summary>
public sealed class NoRepeatNGramProcessor : ILogitsProcessor
{
    private readonly int _size;

    public NoRepeatNGramProcessor(int ngramSize)
    {
        if (ngramSize <= 0) throw new InvalidGenerationOptionException("no_repeat_ngram_size", ngramSize, "must be a positive integer");
        _size = ngramSize;
    }

    public Tensor Process(Tensor contextIds, Tensor scores)
    {
        var length = contextIds.shape[1];
        if (length < _size) return scores;

        using var scope = NewDisposeScope();
        var prefix = contextIds.narrow(1, length + 1 - _size, _size - 1);
        var windows = contextIds.unfold(1, _size, 1);                             // [rows, windows, n]
        var matches = windows.narrow(2, 0, _size - 1).eq(prefix.unsqueeze(1)).all(-1);
        // Windows that do not match write into a spare column past the vocabulary, where they cannot unban anything.
        var vocab = scores.shape[1];
        var target = where(matches, windows.select(2, _size - 1), vocab);
        var banned = zeros(scores.shape[0], vocab + 1, ScalarType.Bool, scores.device);
        banned.scatter_(1, target, ones_like(target, ScalarType.Bool));
        return scores.masked_fill(banned.narrow(1, 0, vocab), double.NegativeInfinity).MoveToOuterDisposeScope();
    }
}
