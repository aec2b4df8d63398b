using Blip2Compiler.Generation;
using TorchSharp;

namespace Blip2Compiler.Tests.Golden;

/// <summary>Properties of decoding that do not need reference outputs, on the fixture checkpoints.</summary>
public class DecodingTests
{
    [Fact]
    public void CachedDecodingEqualsFullRecomputation()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var result = model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], new GenerationOptions { MaxNewTokens = 6 });
        // Without a cache: run the whole sequence again and take the argmax at every new position.
        for (int row = 0; row < result.Sequences.Length; row++)
        {
            var sequence = result.Sequences[row];
            var promptLength = g["input_ids"].shape[1];
            for (int step = 0; step < 6; step++)
            {
                var prefix = torch.tensor(sequence.Take((int)promptLength + step).ToArray()).unsqueeze(0);
                var mask = torch.cat(new[] { g["attention_mask"].slice(0, row, row + 1, 1), torch.ones(1, step, dtype: torch.ScalarType.Int64) }, 1);
                var logits = model.Forward(g["pixel_values"].slice(0, row, row + 1, 1), prefix, mask).Logits;
                Assert.Equal(sequence[promptLength + step], logits[0, -1].argmax().item<long>());
            }
        }
    }

    [Fact]
    public void SamplingWithASeedRepeats()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var options = new GenerationOptions { MaxNewTokens = 8, DoSample = true, Temperature = 1.5, TopK = 50, TopP = 0.95, Seed = 1234 };
        var a = model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options);
        var b = model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options);
        Assert.Equal(a.Sequences, b.Sequences);
    }

    [Fact]
    public void InvalidOptionsAreRejectedBeforeAnyWork()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var error = Assert.Throws<InvalidGenerationOptionException>(() => model.Generate(g["pixel_values"], options: new GenerationOptions { NumBeams = 0 }));
        Assert.Contains("num_beams", error.Message, StringComparison.OrdinalIgnoreCase);
    }
}

public class StreamingTests
{
    [Fact]
    public void OnTokensReportsEveryGreedyStepInOrder()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var steps = new List<long[]>();
        var result = model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], new GenerationOptions { MaxNewTokens = 5, OnTokens = steps.Add });
        Assert.Equal(result.NewTokens[0].Length, steps.Count);
        for (int row = 0; row < result.NewTokens.Length; row++)
            Assert.Equal(result.NewTokens[row], steps.Select(s => s[row]).Take(result.NewTokens[row].Length));
    }
}
