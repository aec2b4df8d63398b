using Blip2Compiler.Models;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Image–text contrastive similarity (ITC): 32 images and 32 texts of 32 tokens per call (image and text embeddings and
/// their similarities), pairs/s counted as matched (image i, text i) pairs, as the ITM benchmark.
/// </summary>
public sealed class ImageTextContrastiveBenchmark : IBenchmark
{
    private const int Batch = 32;

    public string Name => "itc";
    public string Description => "image-text contrastive pairs/s, batch 32 (retrieval config of --config)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        var config = BenchModels.RetrievalConfig(options.Config);
        var model = (ImageTextRetrieval)BenchModels.Get(config, options);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var pixels = BenchInputs.Pixels(model, Batch);
        var text = BenchInputs.Text(model, Batch);
        var time = Measure.Time(() =>
        {
            var output = model.ImageTextContrastive(pixels, text);
            output.LogitsPerImage.Dispose(); output.LogitsPerText.Dispose(); output.ImageEmbeds.Dispose(); output.TextEmbeds.Dispose();
        }, options.Warmup, options.Iterations, options.Device);
        report.Metric(Name, config, options, Batch, "throughput", Batch * 1000 / time.MedianMs, "pairs/s",
            ("latency_ms", time.MedianMs), ("text_tokens", BenchInputs.TextTokens));
    }
}
