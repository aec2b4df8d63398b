using Blip2Compiler.Generation;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Tests.Serving;

/// <summary>
/// <see cref="EngineOptions.AdmissionWindow"/>: an idle engine waits a little for requests arriving together, so they
/// are encoded and prefilled in one admission and decode in the same steps; with no window the first is admitted alone
/// and the next joins it at a later step. Counted in decoding steps (<see cref="EngineStatistics.DecodingSteps"/>): one
/// admission of requests of exactly n tokens takes n − 1 steps (the first token comes from the prefill).
/// </summary>
[Collection(MemorySoak.Name)]
public class EngineAdmissionWindowTests(ServingModels models) : IClassFixture<ServingModels>
{
    private const int Tokens = 5;

    private static EngineRequest Request(int i) => new()
    {
        Image = ServingModels.Image(i),
        Options = new GenerationOptions { MaxNewTokens = Tokens, MinNewTokens = Tokens },
    };

    private async Task<(EngineCompletion[] Completions, long Steps)> TwoRequestsApart(EngineOptions options, TimeSpan apart)
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, options);
        var first = engine.GenerateAsync(Request(0));
        await Task.Delay(apart);
        var second = engine.GenerateAsync(Request(1));
        var completions = await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(0, engine.Statistics.RunningRows);
        return (completions, engine.Statistics.DecodingSteps);
    }

    [Fact]
    public async Task RequestsArrivingWithinTheWindowOfAnIdleEngineAreAdmittedTogether()
    {
        // A long window: the wait ends when the second request fills the two free slots, not by time.
        var options = new EngineOptions { MaxBatch = 2, AdmissionWindow = TimeSpan.FromSeconds(5) };
        var (completions, steps) = await TwoRequestsApart(options, TimeSpan.FromMilliseconds(300));

        Assert.Equal(Tokens - 1, steps);
        for (var i = 0; i < 2; i++)
            Assert.Equal(models.LoneTokens(Request(i))[0], completions[i].Sequences[0].Tokens);
    }

    [Fact]
    public async Task WithoutAWindowTheFirstRequestIsAdmittedAloneAndTheNextJoinsLater()
    {
        // Steps that last (100 ms each) so the first request is mid-run when the second arrives.
        var options = new EngineOptions { MaxBatch = 2, AdmissionWindow = TimeSpan.Zero, StepPause = TimeSpan.FromMilliseconds(100) };
        var (completions, steps) = await TwoRequestsApart(options, TimeSpan.FromMilliseconds(250));

        Assert.True(steps > Tokens - 1, $"{steps} steps: the two requests were admitted together");
        for (var i = 0; i < 2; i++)
            Assert.Equal(models.LoneTokens(Request(i))[0], completions[i].Sequences[0].Tokens);
    }

    [Fact]
    public async Task ALoneRequestIsAdmittedOnceTheWindowPassesQuietly()
    {
        // Nothing else arrives: the wait ends after one quiet window, and the request is answered as alone.
        var options = new EngineOptions { MaxBatch = 4, AdmissionWindow = TimeSpan.FromMilliseconds(200) };
        await using var engine = new ContinuousBatchingEngine(models.Captioner, options);
        var completion = await engine.GenerateAsync(Request(2)).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(models.LoneTokens(Request(2))[0], completion.Sequences[0].Tokens);
        Assert.Equal(Tokens - 1, engine.Statistics.DecodingSteps);
    }
}
