using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// The processors <c>generate</c> applies, in the order of Hugging Face's <c>_get_logits_processor</c>: repetition
/// penalty, no-repeat n-grams, bad words, min length, min new tokens, forced BOS, forced EOS, suppressed tokens,
/// tokens suppressed at the beginning; then, sampling only, temperature, top-k, top-p. (Group beam search applies
/// its <see cref="HammingDiversityProcessor"/> before all of them, as Hugging Face lists it first.)
/// </summary>
public sealed class LogitsProcessorList(IReadOnlyList<ILogitsProcessor> processors) : ILogitsProcessor
{
    public IReadOnlyList<ILogitsProcessor> Processors { get; } = processors;

    internal static LogitsProcessorList For(GenerationPlan plan)
    {
        var list = new List<ILogitsProcessor>();
        if (plan.RepetitionPenalty != 1.0) list.Add(new RepetitionPenaltyProcessor(plan.RepetitionPenalty));
        if (plan.NoRepeatNgramSize > 0) list.Add(new NoRepeatNGramProcessor(plan.NoRepeatNgramSize));
        if (plan.BadWordsIds is { } bad) list.Add(new NoBadWordsProcessor(bad, plan.EosTokenIds));
        if (plan.EosTokenIds is { } eos)
        {
            if (plan.MinLength > 0) list.Add(new MinLengthProcessor(plan.MinLength, eos));
            if (plan.MinNewTokens is > 0 and var minNew) list.Add(new MinLengthProcessor(minNew, eos, plan.ContextLength));
        }
        if (plan.ForcedBosTokenId is { } bos) list.Add(new ForcedBosTokenProcessor(bos));
        if (plan.ForcedEosTokenIds is { } forcedEos) list.Add(new ForcedEosTokenProcessor(plan.MaxLength, forcedEos));
        if (plan.SuppressTokens is { } suppress) list.Add(new SuppressTokensProcessor(suppress));
        if (plan.BeginSuppressTokens is { } beginSuppress)
        {
            // The first generated position; one later when a forced BOS takes it after a one-token context.
            var begin = plan.ContextLength > 1 || plan.ForcedBosTokenId is null ? plan.ContextLength : plan.ContextLength + 1;
            list.Add(new SuppressTokensAtBeginProcessor(beginSuppress, begin));
        }

        // Warpers, sampling only. Beam sampling keeps one non-EOS token more than there are EOS ids, so a beam can
        // always continue.
        if (plan.DoSample)
        {
            var minTokensToKeep = plan.NumBeams > 1 ? (plan.EosTokenIds?.Length ?? 1) + 1 : 1;
            if (plan.Temperature != 1.0) list.Add(new TemperatureWarper(plan.Temperature));
            if (plan.TopK != 0) list.Add(new TopKWarper(plan.TopK, minTokensToKeep));
            if (plan.TopP < 1.0) list.Add(new TopPWarper(plan.TopP, minTokensToKeep));
        }
        return new LogitsProcessorList(list);
    }

    /// <summary>Applies every processor in turn; intermediate tensors belong to the caller's dispose scope.</summary>
    public Tensor Process(Tensor contextIds, Tensor scores)
    {
        foreach (var processor in Processors) scores = processor.Process(contextIds, scores);
        return scores;
    }
}
