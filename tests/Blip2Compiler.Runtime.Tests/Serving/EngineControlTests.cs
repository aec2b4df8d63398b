using Blip2Compiler.Generation;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Tests.Serving;

/// <summary>The generation controls through the engine: stop_strings act as the request's stop; output_scores is refused.</summary>
public class EngineControlTests(ServingModels models) : IClassFixture<ServingModels>
{
    [Fact]
    public async Task StopStringsInTheOptionsEndRowsAsTheRequestsStopDoes()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner);
        var plain = new EngineRequest { Image = ServingModels.Image(3), Options = new() { MaxNewTokens = 20, RepetitionPenalty = 1.2 } };
        var full = (await engine.GenerateAsync(plain)).Sequences[0];
        Assert.True(full.Text.Length > 8, full.Text);
        var stop = full.Text.Substring(full.Text.Length / 2, 2);
        var byRequest = (await engine.GenerateAsync(plain with { Stop = [stop] })).Sequences[0];
        var byOptions = (await engine.GenerateAsync(plain with { Options = plain.Options with { StopStrings = [stop] } })).Sequences[0];
        Assert.Equal(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)].Trim(), byOptions.Text);
        Assert.Equal(byRequest, byOptions with { Tokens = byRequest.Tokens });
        Assert.Equal(byRequest.Tokens, byOptions.Tokens);
        Assert.Equal(FinishReason.Stop, byOptions.FinishReason);

        // Beam search runs on the engine's side lane, through the decoder's own stop strings.
        var beams = plain with { Options = new() { MaxNewTokens = 12, NumBeams = 2, StopStrings = [stop] } };
        var beamText = (await engine.GenerateAsync(beams)).Sequences[0].Text;
        Assert.DoesNotContain(stop, beamText);
    }

    [Fact]
    public async Task OutputScoresIsRefusedWithATypedError()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner);
        var request = new EngineRequest { Image = ServingModels.Image(0), Options = new() { MaxNewTokens = 3, OutputScores = true } };
        var error = await Assert.ThrowsAsync<InvalidGenerationOptionException>(() => engine.GenerateAsync(request));
        Assert.Equal("output_scores", error.Option);
        Assert.Equal(3, (await engine.GenerateAsync(request with { Options = new() { MaxNewTokens = 3 } })).CompletionTokens);
    }
}
