namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>Caption latency with beam search: 5 beams, 30 new tokens, batch 1.</summary>
public sealed class BeamSearchBenchmark : IBenchmark
{
    private const int Beams = 5;

    public string Name => "beam";
    public string Description => "caption latency, 5 beams, 30 new tokens, batch 1 (ms)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        if (BenchRuns.Caption(Name, options, batch: 1, Beams, BenchInputs.CaptionTokens) is not { } time) return;
        report.Metric(Name, options.Config, options, 1, "latency", time.MedianMs, "ms", ("best", time.BestMs), ("beams", Beams),
            ("new_tokens", BenchInputs.CaptionTokens));
    }
}
