using Blip2Compiler.Generation;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// OPT decoding through the static-buffer step (<see cref="DecodingStep.StaticBuffers"/>, and <see cref="DecodingStep.CudaGraphs"/>,
/// which on the CPU runs the same step eagerly) gives the reference's tokens: the fixture's generate.* ids for batch
/// 2 (bucket 2), one row alone (bucket 1), three rows in bucket 4 and beam search's six rows in bucket 8; seeded
/// sampling gives the dynamic step's tokens. Flan-T5's static step the same.
/// </summary>
[Trait("Category", "Golden")]
public class StaticStepGoldenTests
{
    public static TheoryData<DecodingStep, string> GoldenCases() => new()
    {
        { DecodingStep.StaticBuffers, "generate.greedy" },
        { DecodingStep.StaticBuffers, "generate.beam3" },
        { DecodingStep.StaticBuffers, "generate.greedy_min_rep" },
        { DecodingStep.CudaGraphs, "generate.greedy" },
    };

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void FixtureBatchGivesTheReferenceTokens(DecodingStep step, string key)
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        model.DecodingStep = step;
        var result = model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], GenerationGoldenTests.Options(g.Meta.GetProperty(key)));
        TensorAssert.Equal(g[key], GenerationGoldenTests.ToTensor(result.Sequences), $"{step} {key}");
    }

    /// <summary>Rows 0, 1, 0 of the fixture: 3 rows padded to bucket 4 (greedy), 9 beam rows to bucket 16.</summary>
    [Theory]
    [InlineData("generate.greedy")]
    [InlineData("generate.beam3")]
    public void PaddedBucketGivesEachRowsReferenceTokens(string key)
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        model.DecodingStep = DecodingStep.StaticBuffers;
        var rows = torch.tensor(new long[] { 0, 1, 0 });
        var result = model.Generate(g["pixel_values"].index_select(0, rows), g["input_ids"].index_select(0, rows),
            g["attention_mask"].index_select(0, rows), GenerationGoldenTests.Options(g.Meta.GetProperty(key)));
        TensorAssert.Equal(g[key].index_select(0, rows), GenerationGoldenTests.ToTensor(result.Sequences), $"rows 0,1,0 {key}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void OneRowGivesTheDynamicStepsAndTheReferenceTokens(int row)
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var options = GenerationGoldenTests.Options(g.Meta.GetProperty("generate.greedy"));
        var (pixels, ids, mask) = (Row(g["pixel_values"], row), Row(g["input_ids"], row), Row(g["attention_mask"], row));
        var dynamic = model.Generate(pixels, ids, mask, options);
        model.DecodingStep = DecodingStep.StaticBuffers;
        var static_ = model.Generate(pixels, ids, mask, options);
        Assert.Equal(dynamic.Sequences, static_.Sequences);
        TensorAssert.Equal(Row(g["generate.greedy"], row), GenerationGoldenTests.ToTensor(static_.Sequences), $"row {row} alone");
    }

    /// <summary>Seeded sampling (temperature, top-k, top-p, repetition penalty) draws the same tokens: the static step's
    /// logits for the real rows are the dynamic step's, batch 1 (bucket 1) and 3 rows (bucket 4), 2 sequences each.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void SeededSamplingGivesTheDynamicStepsTokens(int batch)
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var rows = torch.tensor(Enumerable.Range(0, batch).Select(r => (long)(r % 2)).ToArray());
        var (pixels, ids, mask) = (g["pixel_values"].index_select(0, rows), g["input_ids"].index_select(0, rows), g["attention_mask"].index_select(0, rows));
        var options = new GenerationOptions
        {
            MaxNewTokens = 8, DoSample = true, Temperature = 1.5, TopK = 50, TopP = 0.95, RepetitionPenalty = 1.2,
            NumReturnSequences = 2, Seed = 1234,
        };
        var dynamic = model.Generate(pixels, ids, mask, options);
        model.DecodingStep = DecodingStep.StaticBuffers;
        var static_ = model.Generate(pixels, ids, mask, options);
        Assert.Equal(dynamic.Sequences, static_.Sequences);
    }

    /// <summary>Graphs asked for on the CPU: the static step runs eagerly, nothing is replayed, and the model says why.</summary>
    [Fact]
    public void CudaGraphsOnTheCpuRunEagerlyAndSayWhy()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        Assert.Null(model.DecodingStepNote);
        model.DecodingStep = DecodingStep.CudaGraphs;
        var options = new GenerationOptions { MaxNewTokens = 3 };
        model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options);
        var note = model.DecodingStepNote;
        Assert.NotNull(note);
        Assert.Contains("CUDA device", note);
        model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options);
        Assert.Same(note, model.DecodingStepNote);
        Assert.Equal(0, model.GraphReplays);
    }

    /// <summary>Flan-T5 through its static step: the fixture's ids at batch 2 and for rows 0, 1, 0 (bucket 4; beam rows
    /// in bucket 16), greedy, beam-3 and min-length/repetition.</summary>
    [Theory]
    [InlineData("generate.greedy", false)]
    [InlineData("generate.beam3", false)]
    [InlineData("generate.greedy_min_rep", false)]
    [InlineData("generate.greedy", true)]
    [InlineData("generate.beam3", true)]
    public void FlanT5GivesTheReferenceTokens(string key, bool padded)
    {
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        model.DecodingStep = DecodingStep.StaticBuffers;
        var rows = torch.tensor(padded ? new long[] { 0, 1, 0 } : new long[] { 0, 1 });
        var result = model.Generate(g["pixel_values"].index_select(0, rows), g["input_ids"].index_select(0, rows),
            g["attention_mask"].index_select(0, rows), GenerationGoldenTests.Options(g.Meta.GetProperty(key)));
        TensorAssert.Equal(g[key].index_select(0, rows), GenerationGoldenTests.ToTensor(result.Sequences), $"flan-t5 {key} rows {string.Join(",", rows.data<long>().ToArray())}");
    }

    [Fact]
    public void FlanT5SeededSamplingGivesTheDynamicStepsTokens()
    {
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        var rows = torch.tensor(new long[] { 0, 1, 0 });
        var (pixels, ids, mask) = (g["pixel_values"].index_select(0, rows), g["input_ids"].index_select(0, rows), g["attention_mask"].index_select(0, rows));
        var options = new GenerationOptions { MaxNewTokens = 8, DoSample = true, Temperature = 1.5, TopK = 50, TopP = 0.95, NumReturnSequences = 2, Seed = 99 };
        var dynamic = model.Generate(pixels, ids, mask, options);
        model.DecodingStep = DecodingStep.CudaGraphs;   // on the CPU: the static step, eagerly
        var static_ = model.Generate(pixels, ids, mask, options);
        Assert.Equal(dynamic.Sequences, static_.Sequences);
        Assert.Contains("CUDA device", model.DecodingStepNote);
    }

    private static Tensor Row(Tensor t, int row) => t.narrow(0, row, 1);
}
