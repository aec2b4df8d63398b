using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Blip2Compiler.Serving;
using Blip2Compiler.Tests.Golden;

namespace Blip2Compiler.Tests.Serving;

/// <summary>
/// 500 short Flan-T5 requests through one engine: every admission makes cross-attention keys/values and encoder states
/// for its slot, and none of it stays behind (live tensors after a full collection flat: nothing stays referenced),
/// nor any row.
/// </summary>
[Collection(MemorySoak.Name)]
[Trait("Category", "Golden")]
public class T5EngineSoakTests
{
    [Fact]
    public async Task FiveHundredT5RequestsLeaveNoRowsOrTensorsBehind()
    {
        using var model = GoldenFlanT5.Load(Fixtures.Golden("blip2-flan-t5") + "/model");
        var images = Blip2ImageProcessor.Load(Path.Combine(Fixtures.Root, "..", "..", "samples", "checkpoints", "blip2-tiny-opt"));
        var captioner = new Blip2Captioner(model, images, TokenizerLoader.Load(Fixtures.Golden("tokenizers") + "/unigram_spm"));
        var image = ImageSource.FromBytes(File.ReadAllBytes(Path.Combine(Fixtures.Golden("image-processor"), "small.png")));
        string?[] prompts = [null, "the decoder is", "a model of the encoder"];
        await using var engine = new ContinuousBatchingEngine(captioner, new EngineOptions { MaxBatch = 4, MaxQueue = 64 });
        async Task Run(int count) => await Task.WhenAll(Enumerable.Range(0, 8).Select(async caller =>
        {
            for (var i = caller; i < count; i += 8)
                await engine.GenerateAsync(new EngineRequest { Image = image, Prompt = prompts[i % prompts.Length], Options = new() { MaxNewTokens = 1 + i % 4 } });
        }));
        await Run(50);   // warm
        static long Live()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            return TorchSharp.torch.Tensor.TotalCount;
        }
        var before = Live();
        await Run(500);
        var after = Live();
        Assert.Equal(550, engine.Statistics.CompletedRequests);
        Assert.Equal(0, engine.Statistics.RunningRows);
        // One tensor kept per request would be 500 (an admission's memoized keys/values alone are 4, on 2 layers).
        Assert.True(after - before < 50, $"live tensors {before} → {after}");
    }
}
