namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>End-to-end caption latency: pixels → 30 greedy tokens, batch 1 (vision, Q-Former, prefill and decode).</summary>
public sealed class CaptionBenchmark : IBenchmark
{
    public string Name => "caption";
    public string Description => "end-to-end caption latency, greedy, 30 new tokens, batch 1 (ms)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        if (BenchRuns.Caption(Name, options, batch: 1, beams: 1, BenchInputs.CaptionTokens) is not { } time) return;
        report.Metric(Name, options.Config, options, 1, "latency", time.MedianMs, "ms", ("best", time.BestMs), ("new_tokens", BenchInputs.CaptionTokens));
    }
}
