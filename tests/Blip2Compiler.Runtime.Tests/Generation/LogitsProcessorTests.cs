using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

public class LogitsProcessorTests
{
    private static float[] Row(Tensor scores, int row = 0) => scores[row].data<float>().ToArray();

    private static Tensor Scores(params float[][] rows) =>
        tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length });

    private static readonly float Inf = float.NegativeInfinity;

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeScoresOnce()
    {
        var scores = Scores([2f, -2f, 1f, 0.5f], [2f, -2f, 1f, 0.5f]);
        var ids = Reference.Context([0, 1, 1], [3, 3, 3]);
        var result = new RepetitionPenaltyProcessor(2.0).Process(ids, scores);
        Assert.Equal([1f, -4f, 1f, 0.5f], Row(result, 0));
        Assert.Equal([2f, -2f, 1f, 0.25f], Row(result, 1));
        Assert.Equal([2f, -2f, 1f, 0.5f], Row(scores, 0));   // input untouched
    }

    [Theory]
    [InlineData(3, new[] { 3 })]        // (1,2) was followed by 3
    [InlineData(2, new[] { 3 })]        // 2 was followed by 3
    [InlineData(1, new[] { 1, 2, 3 })]  // every seen id
    [InlineData(6, new int[0])]         // context shorter than the n-gram
    public void NoRepeatNGramBansTheCompletionsOfSeenNGrams(int n, int[] banned)
    {
        var ids = Reference.Context([1, 2, 3, 1, 2]);
        var result = Row(new NoRepeatNGramProcessor(n).Process(ids, zeros(1, 5)));
        for (var id = 0; id < 5; id++)
            Assert.Equal(banned.Contains(id) ? Inf : 0f, result[id]);
    }

    [Fact]
    public void NoRepeatNGramWorksPerRow()
    {
        var ids = Reference.Context([1, 2, 1], [2, 0, 2]);
        var result = new NoRepeatNGramProcessor(2).Process(ids, zeros(2, 4));
        Assert.Equal([0f, 0f, Inf, 0f], Row(result, 0));
        Assert.Equal([Inf, 0f, 0f, 0f], Row(result, 1));
    }

    [Fact]
    public void MinLengthSuppressesEveryEosUntilReached()
    {
        var scores = Scores([1f, 2f, 3f, 4f]);
        var ids = Reference.Context([0, 0, 0]);
        Assert.Equal([1f, Inf, 3f, Inf], Row(new MinLengthProcessor(4, [1, 3]).Process(ids, scores)));
        Assert.Equal([1f, 2f, 3f, 4f], Row(new MinLengthProcessor(3, [1, 3]).Process(ids, scores)));
        // min_new_tokens: counts only what follows the first promptLength ids
        Assert.Equal([1f, 2f, 3f, Inf], Row(new MinLengthProcessor(2, [3], promptLength: 2).Process(ids, scores)));
        Assert.Equal([1f, 2f, 3f, 4f], Row(new MinLengthProcessor(1, [3], promptLength: 2).Process(ids, scores)));
    }

    [Fact]
    public void TemperatureDividesTheScores()
    {
        Assert.Equal([2f, -4f], Row(new TemperatureWarper(0.5).Process(Reference.Context([0]), Scores([1f, -2f]))));
    }

    [Fact]
    public void TopKKeepsTheKBestAndTheirTies()
    {
        var ids = Reference.Context([0]);
        var scores = Scores([1f, 3f, 2f, 3f]);
        Assert.Equal([Inf, 3f, Inf, 3f], Row(new TopKWarper(2).Process(ids, scores)));
        Assert.Equal([Inf, 3f, 2f, 3f], Row(new TopKWarper(3).Process(ids, scores)));
        Assert.Equal([Inf, 3f, 2f, 3f], Row(new TopKWarper(1, minTokensToKeep: 3).Process(ids, scores)));
        Assert.Equal([1f, 3f, 2f, 3f], Row(new TopKWarper(10).Process(ids, scores)));
    }

    [Fact]
    public void TopPKeepsTheSmallestNucleusAboveP()
    {
        var ids = Reference.Context([0]);
        var scores = log(tensor(new[] { 0.15f, 0.5f, 0.05f, 0.3f })).unsqueeze(0);
        var kept = Row(new TopPWarper(0.7).Process(ids, scores)).Select(float.IsFinite).ToArray();
        Assert.Equal([false, true, false, true], kept);
        var atLeastThree = Row(new TopPWarper(0.7, minTokensToKeep: 3).Process(ids, scores)).Select(float.IsFinite).ToArray();
        Assert.Equal([true, true, false, true], atLeastThree);
        var all = Row(new TopPWarper(1.0).Process(ids, scores)).Select(float.IsFinite).ToArray();
        Assert.All(all, Assert.True);
    }

    [Fact]
    public void ProcessorsRunInHuggingFaceOrder()
    {
        var plan = GenerationPlan.Resolve(new GenerationOptions
        {
            DoSample = true, Temperature = 0.7, TopK = 5, TopP = 0.9, RepetitionPenalty = 1.2, NoRepeatNgramSize = 2,
            MinLength = 5, MinNewTokens = 2, EosTokenIds = [1], MaxNewTokens = 4,
        }, contextLength: 3);
        var kinds = LogitsProcessorList.For(plan).Processors.Select(p => p.GetType()).ToArray();
        Assert.Equal([typeof(RepetitionPenaltyProcessor), typeof(NoRepeatNGramProcessor), typeof(MinLengthProcessor),
            typeof(MinLengthProcessor), typeof(TemperatureWarper), typeof(TopKWarper), typeof(TopPWarper)], kinds);

        // Greedy: no warpers; defaults add nothing at all.
        var greedy = GenerationPlan.Resolve(new GenerationOptions { Temperature = 0.7, TopK = 5 }, contextLength: 3);
        Assert.Empty(LogitsProcessorList.For(greedy).Processors);
    }
}
