using Blip2Compiler.Models;
using Blip2Compiler.Nn;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Image encoding: vision tower + Q-Former + projection (language projection for captioning models, the normalized
/// vision projection for retrieval ones), latency at batch 1 and images/s at batch 32.
/// </summary>
public sealed class ImageEncodingBenchmark : IBenchmark
{
    public string Name => "image-encoding";
    public string Description => "vision + Q-Former + projection: batch 1 latency (ms), batch 32 images/s";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        var model = BenchModels.Get(options.Config, options);
        foreach (var batch in new[] { 1, 32 })
        {
            using var scope = NewDisposeScope();
            var pixels = BenchInputs.Pixels(model, batch);
            var time = Measure.Time(() => Encode(model, pixels).Dispose(), options.Warmup, options.Iterations, options.Device);
            if (batch == 1) report.Metric(Name, options.Config, options, batch, "latency", time.MedianMs, "ms", ("best", time.BestMs));
            else report.Metric(Name, options.Config, options, batch, "throughput", batch * 1000 / time.MedianMs, "images/s", ("latency_ms", time.MedianMs));
        }
    }

    /// <summary>What a captioning model feeds its language model, or a retrieval model compares with text.</summary>
    public static Tensor Encode(Blip2ModelBase model, Tensor pixels)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ctx = new ForwardContext();
        if (model is ImageTextRetrieval retrieval) return retrieval.GetImageEmbeds(pixels).MoveToOuterDisposeScope();
        var (image, _) = model.VisionForward(ctx, pixels, false);
        var queries = model.QFormerForward(ctx, image);
        var projected = model switch
        {
            OptConditionalGeneration opt => opt.ProjectQueries(ctx, queries),
            T5ConditionalGeneration t5 => t5.ProjectQueries(ctx, queries),
            _ => queries,
        };
        return projected.MoveToOuterDisposeScope();
    }
}
