using Blip2Compiler.Generation;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Tests.Serving;

/// <summary>
/// The continuous-batching engine against lone <c>Generate</c> / <c>Caption</c> calls on the tiny OPT checkpoint:
/// requests that run side by side, join mid-run and leave early get exactly the tokens and text they get alone.
/// </summary>
public class ContinuousBatchingEngineTests(ServingModels models) : IClassFixture<ServingModels>
{
    private static readonly string?[] Prompts = [null, "a photo of", "Question: what is in the picture? Answer:", "an", "the colors of this image are"];

    private static EngineRequest Greedy(int i) => new()
    {
        Image = ServingModels.Image(i),
        Prompt = Prompts[i % Prompts.Length],
        Options = new GenerationOptions { MaxNewTokens = 3 + (i * 7) % 17 },
    };

    private async Task AssertLikeLoneCalls(ContinuousBatchingEngine engine, IReadOnlyList<EngineRequest> requests, IReadOnlyList<Task<EngineCompletion>> tasks)
    {
        var completions = await Task.WhenAll(tasks);
        for (var i = 0; i < requests.Count; i++)
        {
            var lone = models.LoneTokens(requests[i]);
            Assert.Equal(lone.Length, completions[i].Sequences.Count);
            for (var r = 0; r < lone.Length; r++)
                Assert.True(lone[r].SequenceEqual(completions[i].Sequences[r].Tokens),
                    $"request {i} row {r}: engine [{string.Join(' ', completions[i].Sequences[r].Tokens)}], lone [{string.Join(' ', lone[r])}]");
        }
        Assert.Equal(0, engine.Statistics.RunningRows);
    }

    [Fact]
    public async Task ConcurrentGreedyRequestsJoiningMidRunGiveTheTokensAndTextOfLoneCalls()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 4, MaxQueue = 32 });
        var requests = Enumerable.Range(0, 12).Select(Greedy).ToList();
        var tasks = requests.Take(3).Select(r => engine.GenerateAsync(r)).ToList();
        // The rest arrive while the first ones decode: they wait for free rows and join at a later step.
        while (engine.Statistics.DecodingSteps < 2) await Task.Delay(1);
        tasks.AddRange(requests.Skip(3).Select(r => engine.GenerateAsync(r)));
        await AssertLikeLoneCalls(engine, requests, tasks);

        var completions = await Task.WhenAll(tasks);
        for (var i = 0; i < requests.Count; i++)
        {
            var caption = models.Captioner.Caption([requests[i].Image], [requests[i].Prompt], requests[i].Options)[0];
            Assert.Equal(caption, completions[i].Sequences[0].Text);
            var sequence = completions[i].Sequences[0];
            Assert.Equal(sequence.Tokens.Count < requests[i].Options!.MaxNewTokens ? FinishReason.Stop : FinishReason.Length, sequence.FinishReason);
            Assert.Equal(sequence.Tokens.Count, completions[i].CompletionTokens);
        }
        var stats = engine.Statistics;
        Assert.Equal(requests.Count, stats.CompletedRequests);
        Assert.Equal(completions.Sum(c => c.CompletionTokens), stats.GeneratedTokens);
        // Batched: fewer steps than the requests' tokens one after another.
        Assert.True(stats.DecodingSteps < stats.GeneratedTokens - requests.Count, $"{stats.DecodingSteps} steps for {stats.GeneratedTokens} tokens");
    }
}
