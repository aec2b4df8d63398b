using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>NoBadWordsLogitsProcessor</c> (a <c>SequenceBiasLogitsProcessor</c> with −inf biases): a one-id sequence is
/// banned at every step; a longer one bans its last id in the rows whose ids so far end with the rest of it. As in
/// Hugging Face, a sequence longer than the ids so far is skipped, and one-id sequences equal to an EOS id are
/// dropped (EOS cannot be banned this way).
/// </summary>
public sealed class NoBadWordsProcessor : ILogitsProcessor
{
    private readonly long[][] _words;

    public NoBadWordsProcessor(IReadOnlyList<IReadOnlyList<long>> badWordsIds, IReadOnlyList<long>? eosTokenIds = null)
    {
        ArgumentNullException.ThrowIfNull(badWordsIds);
        if (badWordsIds.Count == 0 || badWordsIds.Any(w => w is null || w.Count == 0 || w.Any(id => id < 0)))
            throw new InvalidGenerationOptionException("bad_words_ids", "[...]", "must be a non-empty list of non-empty lists of non-negative token ids");
        var eos = eosTokenIds ?? [];
        _words = [.. badWordsIds.Where(w => !(w.Count == 1 && eos.Contains(w[0]))).Select(w => w.ToArray())];
    }

    public Tensor Process(Tensor contextIds, Tensor scores)
    {
        var vocab = scores.shape[1];
        foreach (var word in _words)
            foreach (var id in word)
                if (id >= vocab)
                    throw new InvalidGenerationOptionException("bad_words_ids", id, $"is outside the vocabulary (ids 0 to {vocab - 1})");
        if (_words.Length == 0) return scores;

        using var scope = NewDisposeScope();
        var banned = zeros(scores.shape[0], vocab, ScalarType.Bool, scores.device);
        var length = contextIds.shape[1];
        foreach (var word in _words)
        {
            if (word.Length == 1)
            {
                banned.select(1, word[0]).fill_(true);
                continue;
            }
            if (word.Length > length) continue;
            var prefix = tensor(word[..^1], device: contextIds.device);
            var matching = contextIds.narrow(1, length - (word.Length - 1), word.Length - 1).eq(prefix).all(1);
            var column = banned.select(1, word[^1]);
            column.logical_or_(matching);
        }
        return scores.masked_fill(banned, double.NegativeInfinity).MoveToOuterDisposeScope();
    }
}
