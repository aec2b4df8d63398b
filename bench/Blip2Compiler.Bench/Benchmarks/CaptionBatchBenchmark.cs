using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>Captioning throughput: 8 images per call, greedy, 30 new tokens each.</summary>
public sealed class CaptionBatchBenchmark : IBenchmark
{
    private const int Batch = 8;

    public string Name => "caption-batch";
    public string Description => "captions/s, batch 8, greedy, 30 new tokens";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        if (BenchModels.IsRetrieval(options.Config)) { Console.Error.WriteLine($"{Name}: {options.Config} does not generate; skipped"); return; }
        var model = BenchModels.Get(options.Config, options);
        using var scope = NewDisposeScope();
        var pixels = BenchInputs.Pixels(model, Batch);
        var prompt = BenchInputs.CaptionPrompt(model, Batch);
        var generation = BenchInputs.Caption(BenchInputs.CaptionTokens, 1);
        var time = Measure.Time(() => BenchInputs.Generate(model, pixels, prompt, generation), options.Warmup, options.Iterations, options.Device);
        report.Metric(Name, options.Config, options, Batch, "throughput", Batch * 1000 / time.MedianMs, "captions/s",
            ("latency_ms", time.MedianMs), ("new_tokens", BenchInputs.CaptionTokens));
    }
}
