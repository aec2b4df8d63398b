using Blip2Compiler.Generation;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// One loaded model serving several requests at once, as in a web service: each call keeps its own context, cache and
/// dispose scope, so concurrent calls give exactly what the same calls give one after another.
/// </summary>
[Trait("Category", "Golden")]
public class ConcurrencyTests
{
    [Fact]
    public void GenerateLeavesNoInferenceModeBehindAndTheInputsUsable()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var pixels = g["pixel_values"].clone();
        model.Generate(pixels, g["input_ids"], g["attention_mask"], new GenerationOptions { MaxNewTokens = 2 });
        Assert.False(TorchSharp.torch.is_inference_mode_enabled());
        // The caller's tensors are untouched normal tensors: in-place work on them still runs.
        pixels.add_(1.0);
    }

    [Fact]
    public async Task ConcurrentGenerateCallsMatchSequentialOnes()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var settings = new[]
        {
            new GenerationOptions { MaxNewTokens = 6 },
            new GenerationOptions { MaxNewTokens = 5, NumBeams = 3 },
            new GenerationOptions { MaxNewTokens = 6, RepetitionPenalty = 1.5, MinNewTokens = 4 },
            new GenerationOptions { MaxNewTokens = 4, DoSample = true, Seed = 11, TopK = 5 },
        };
        long[][] Run(GenerationOptions o) => model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], o).Sequences;

        var sequential = settings.Select(Run).ToList();
        for (var round = 0; round < 3; round++)
        {
            var concurrent = await Task.WhenAll(settings.Concat(settings).Select(o => Task.Run(() => Run(o))));
            for (var i = 0; i < concurrent.Length; i++)
                Assert.Equal(sequential[i % settings.Length], concurrent[i]);
        }
    }
}
