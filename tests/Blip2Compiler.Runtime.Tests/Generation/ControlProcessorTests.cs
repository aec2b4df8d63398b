using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

/// <summary>
/// The processors of generate's remaining controls on small hand-made scores, each expectation computed from the
/// definition in Hugging Face's logits_process.py, alone and in the order <c>_get_logits_processor</c> applies them.
/// </summary>
public class ControlProcessorTests
{
    private static readonly float Inf = float.NegativeInfinity;

    private static float[] Row(Tensor scores, int row = 0) => scores[row].data<float>().ToArray();

    private static Tensor Scores(params float[][] rows) =>
        tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length });

    [Fact]
    public void SuppressTokensBansTheIdsAtEveryStepAndIgnoresIdsPastTheVocabulary()
    {
        var scores = Scores([1f, 2f, 3f, 4f], [4f, 3f, 2f, 1f]);
        var result = new SuppressTokensProcessor([1, 3, 99]).Process(Reference.Context([0], [2]), scores);
        Assert.Equal([1f, Inf, 3f, Inf], Row(result, 0));
        Assert.Equal([4f, Inf, 2f, Inf], Row(result, 1));
        Assert.Equal([1f, 2f, 3f, 4f], Row(scores, 0));   // input untouched
    }

    [Fact]
    public void BeginSuppressTokensBansOnlyAtTheBeginIndex()
    {
        var scores = Scores([1f, 2f, 3f]);
        var processor = new SuppressTokensAtBeginProcessor([0, 2], beginIndex: 3);
        Assert.Equal([Inf, 2f, Inf], Row(processor.Process(Reference.Context([5, 6, 7]), scores)));
        Assert.Equal([1f, 2f, 3f], Row(processor.Process(Reference.Context([5, 6, 7, 8]), scores)));
        Assert.Equal([1f, 2f, 3f], Row(processor.Process(Reference.Context([5, 6]), scores)));
    }

    [Fact]
    public void ForcedBosSetsEveryScoreButTheBosToMinusInfinityAfterOneToken()
    {
        var scores = Scores([1f, 2f, 3f], [3f, 2f, 1f]);
        var first = new ForcedBosTokenProcessor(2).Process(Reference.Context([0], [0]), scores);
        Assert.Equal([Inf, Inf, 0f], Row(first, 0));
        Assert.Equal([Inf, Inf, 0f], Row(first, 1));
        Assert.Equal([1f, 2f, 3f], Row(new ForcedBosTokenProcessor(2).Process(Reference.Context([0, 2], [0, 2]), scores)));
        Assert.Throws<InvalidGenerationOptionException>(() => new ForcedBosTokenProcessor(3).Process(Reference.Context([0]), scores));
    }

    [Fact]
    public void ForcedEosForcesEveryListedIdAtTheLastPosition()
    {
        var scores = Scores([1f, 2f, 3f, 4f]);
        var processor = new ForcedEosTokenProcessor(maxLength: 4, [1, 3]);
        Assert.Equal([Inf, 0f, Inf, 0f], Row(processor.Process(Reference.Context([0, 0, 0]), scores)));   // 3 = max_length − 1
        Assert.Equal([1f, 2f, 3f, 4f], Row(processor.Process(Reference.Context([0, 0]), scores)));
    }

    [Fact]
    public void BadWordsBanSingleIdsAlwaysAndLongerSequencesAfterTheirPrefix()
    {
        // [2] always; [0, 1, 3]: 3 after "0 1"; [3] equals the EOS id and is dropped (HF filters it out);
        // [4, 4, 4, 4, 1]: longer than the ids so far, skipped.
        var processor = new NoBadWordsProcessor([[2], [0, 1, 3], [3], [4, 4, 4, 4, 1]], eosTokenIds: [3]);
        var scores = Scores([1f, 1f, 1f, 1f, 1f], [1f, 1f, 1f, 1f, 1f]);
        var result = processor.Process(Reference.Context([4, 0, 1], [0, 1, 0]), scores);
        Assert.Equal([1f, 1f, Inf, Inf, 1f], Row(result, 0));
        Assert.Equal([1f, 1f, Inf, 1f, 1f], Row(result, 1));
        Assert.Throws<InvalidGenerationOptionException>(() => new NoBadWordsProcessor([[7]]).Process(Reference.Context([0]), scores));
        Assert.Throws<InvalidGenerationOptionException>(() => new NoBadWordsProcessor([[]]));
        Assert.Throws<InvalidGenerationOptionException>(() => new NoBadWordsProcessor([]));
    }

    [Fact]
    public void HammingDiversityPenalisesTokensEarlierGroupsChoseThisStep()
    {
        // 2 inputs × 4 beams in 2 groups of 2; this step group 0 chose [2, 2] for input 0 and [0, 1] for input 1.
        var processor = new HammingDiversityProcessor(0.5, numBeams: 4, numBeamGroups: 2);
        var current = tensor(new long[] { 2, 2, 0, 0, 0, 1, 0, 0 });
        var scores = zeros(4, 3);   // group 1's rows: input 0's two beams, then input 1's
        var result = processor.Process(scores, current, group: 1);
        Assert.Equal([0f, 0f, -1f], Row(result, 0));
        Assert.Equal([0f, 0f, -1f], Row(result, 1));
        Assert.Equal([-0.5f, -0.5f, 0f], Row(result, 2));
        Assert.Equal([-0.5f, -0.5f, 0f], Row(result, 3));
        Assert.Same(scores, processor.Process(scores, current, group: 0));
        Assert.Throws<InvalidGenerationOptionException>(() => new HammingDiversityProcessor(0.0, 4, 2));
        Assert.Throws<InvalidGenerationOptionException>(() => new HammingDiversityProcessor(1.0, 4, 3));
    }

    private static LogitsProcessorList For(GenerationOptions options, int contextLength) =>
        LogitsProcessorList.For(GenerationPlan.Resolve(options, contextLength));

    [Fact]
    public void ForcedBosComesBeforeSuppressTokensAsInHuggingFace()
    {
        // _get_logits_processor: forced BOS, then suppress_tokens. Suppressing the forced id leaves nothing.
        var list = For(new GenerationOptions { MaxNewTokens = 4, ForcedBosTokenId = 1, SuppressTokens = [1] }, contextLength: 1);
        Assert.Equal([typeof(ForcedBosTokenProcessor), typeof(SuppressTokensProcessor)], list.Processors.Select(p => p.GetType()));
        Assert.Equal([Inf, Inf, Inf], Row(list.Process(Reference.Context([0]), Scores([1f, 2f, 3f]))));
    }

    [Fact]
    public void BeginSuppressionStartsOneLaterWhenForcedBosTakesTheFirstPosition()
    {
        // One-token context (T5's decoder start) with a forced BOS: begin_index = 2, so the BOS step is untouched.
        var list = For(new GenerationOptions { MaxNewTokens = 4, ForcedBosTokenId = 0, BeginSuppressTokens = [2] }, contextLength: 1);
        var scores = Scores([1f, 2f, 3f]);
        Assert.Equal([0f, Inf, Inf], Row(list.Process(Reference.Context([5]), scores)));
        Assert.Equal([1f, 2f, Inf], Row(list.Process(Reference.Context([5, 0]), scores)));
        // A longer context: the first generated position is the context length.
        var opt = For(new GenerationOptions { MaxNewTokens = 4, ForcedBosTokenId = 0, BeginSuppressTokens = [2] }, contextLength: 3);
        Assert.Equal([1f, 2f, Inf], Row(opt.Process(Reference.Context([5, 5, 5]), scores)));
    }

    [Fact]
    public void TheFullListRunsInHuggingFacesOrder()
    {
        var list = For(new GenerationOptions
        {
            MaxNewTokens = 4, RepetitionPenalty = 2.0, NoRepeatNgramSize = 2, BadWordsIds = [[4]], EosTokenIds = [3],
            MinNewTokens = 1, ForcedBosTokenId = 0, ForcedEosTokenIds = [3], SuppressTokens = [2], BeginSuppressTokens = [1],
        }, contextLength: 2);
        Assert.Equal(
            // min_new_tokens also sets min_length (context + 1), as _prepare_generated_length does: both processors run.
            [typeof(RepetitionPenaltyProcessor), typeof(NoRepeatNGramProcessor), typeof(NoBadWordsProcessor), typeof(MinLengthProcessor), typeof(MinLengthProcessor),
             typeof(ForcedBosTokenProcessor), typeof(ForcedEosTokenProcessor), typeof(SuppressTokensProcessor), typeof(SuppressTokensAtBeginProcessor)],
            list.Processors.Select(p => p.GetType()));

        // After [0, 1] (begin index 2, max_length 6): penalty halves 0 and 1; the 2-gram (0, 1) bans nothing new
        // (1 was never followed); 4 banned; EOS 3 held back by min_new_tokens; 2 suppressed; 1 suppressed at the begin.
        var scores = Scores([4f, 4f, 4f, 4f, 4f, 1f]);
        Assert.Equal([2f, Inf, Inf, Inf, Inf, 1f], Row(list.Process(Reference.Context([0, 1]), scores)));
        // At max_length − 1 (5 ids) the forced EOS replaces every score; the suppressions find only −inf left.
        Assert.Equal([Inf, Inf, Inf, 0f, Inf, Inf], Row(list.Process(Reference.Context([0, 1, 5, 5, 5]), scores)));
    }
}
