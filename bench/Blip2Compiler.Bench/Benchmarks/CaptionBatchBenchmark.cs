namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>Captioning throughput: 8 images per call, greedy, 30 new tokens each.</summary>
public sealed class CaptionBatchBenchmark : IBenchmark
{
    private const int Batch = 8;

    public string Name => "caption-batch";
    public string Description => "captions/s, batch 8, greedy, 30 new tokens";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        if (BenchRuns.Caption(Name, options, Batch, beams: 1, BenchInputs.CaptionTokens) is not { } time) return;
        report.Metric(Name, options.Config, options, Batch, "throughput", Batch * 1000 / time.MedianMs, "captions/s",
            ("latency_ms", time.MedianMs), ("new_tokens", BenchInputs.CaptionTokens));
    }
}
