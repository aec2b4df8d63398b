using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Tests.Serving;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// A lone <c>Generate</c> on the fixture checkpoints cancelled mid-search (greedy and beam search, OPT and Flan-T5,
/// the dynamic and the static-buffer step): it ends at that step with <see cref="OperationCanceledException"/>, leaves
/// no tensor behind (the KV cache, the step's buffers, the encoded image), and the same model then gives exactly the
/// reference's tokens.
/// </summary>
// Alone: the live-tensor count is the whole process's.
[Trait("Category", "Golden")]
[Collection(MemorySoak.Name)]
public class CancelledGenerationTests
{
    public static TheoryData<string, string, DecodingStep> Cases()
    {
        var data = new TheoryData<string, string, DecodingStep>();
        foreach (var fixture in new[] { "blip2-opt", "blip2-flan-t5" })
            foreach (var key in new[] { "generate.greedy", "generate.beam3" })
                foreach (var step in new[] { DecodingStep.Dynamic, DecodingStep.StaticBuffers })
                    data.Add(fixture, key, step);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ACancelledRunLeavesNothingAndTheModelThenGivesTheReferenceTokens(string fixture, string key, DecodingStep step)
    {
        using var g = new GoldenCase(fixture);
        using Blip2ConditionalGeneration model = fixture == "blip2-opt" ? GoldenOpt.Load(g.ModelDirectory) : GoldenFlanT5.Load(g.ModelDirectory);
        model.DecodingStep = step;
        var options = GenerationGoldenTests.Options(g.Meta.GetProperty(key));
        GenerationResult Run(GenerationOptions o, CancellationToken token = default) =>
            model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], o, cancellationToken: token);

        Run(options);   // warm: whatever the first run makes once
        // Garbage collected first; then no collection until the count is read again, so a tensor a cancelled run left
        // undisposed (its cache, a step's buffers) is still counted, not quietly finalized.
        Collect();
        var before = TorchSharp.torch.Tensor.TotalCount;
        for (var round = 0; round < 3; round++)
        {
            using var leave = new CancellationTokenSource();
            var reported = new List<int>();
            var cancelling = options with
            {
                OnStep = n =>
                {
                    reported.Add(n);
                    if (n == 2) leave.Cancel();
                },
            };
            var e = Assert.ThrowsAny<OperationCanceledException>(() => Run(cancelling, leave.Token));
            Assert.Equal(leave.Token, e.CancellationToken);
            Assert.Equal([1, 2], reported);   // no step after the one that cancelled
        }
        Assert.Equal(before, TorchSharp.torch.Tensor.TotalCount);

        TensorAssert.Equal(g[key], GenerationGoldenTests.ToTensor(Run(options).Sequences), $"{fixture} {key} after cancelled runs");
    }

    [Fact]
    public void ATokenAlreadyCancelledIsRefusedAfterTheChecksAndBeforeTheRun()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var cancelled = new CancellationToken(true);
        var steps = 0;
        var options = new GenerationOptions { MaxNewTokens = 4, NumBeams = 2, OnStep = _ => steps++ };
        Assert.ThrowsAny<OperationCanceledException>(() =>
            model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options, cancellationToken: cancelled));
        Assert.Equal(0, steps);
        // A caller's mistake is still reported as one.
        Assert.Throws<InvalidGenerationOptionException>(() =>
            model.Generate(g["pixel_values"], options: new GenerationOptions { NumBeams = 0 }, cancellationToken: cancelled));
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
