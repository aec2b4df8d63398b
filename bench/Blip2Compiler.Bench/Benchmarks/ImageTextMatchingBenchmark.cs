using Blip2Compiler.Models;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>Image–text matching (ITM head): 32 (image, 32-token text) pairs per call, pairs/s.</summary>
public sealed class ImageTextMatchingBenchmark : IBenchmark
{
    private const int Batch = 32;

    public string Name => "itm";
    public string Description => "image-text matching pairs/s, batch 32 (retrieval config of --config)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        var config = BenchModels.RetrievalConfig(options.Config);
        var model = (ImageTextRetrieval)BenchModels.Get(config, options);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var pixels = BenchInputs.Pixels(model, Batch);
        var text = BenchInputs.Text(model, Batch);
        var time = Measure.Time(() => model.ImageTextMatching(pixels, text).Dispose(), options.Warmup, options.Iterations, options.Device);
        report.Metric(Name, config, options, Batch, "throughput", Batch * 1000 / time.MedianMs, "pairs/s",
            ("latency_ms", time.MedianMs), ("text_tokens", BenchInputs.TextTokens));
    }
}
