namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Per-token decode time: (caption with 30 new tokens − caption with 1 new token) / 29, batch 1 greedy. The 1-token
/// run is the prefill (image encoding + prompt forward + first token); the rest is KV-cached decoding.
/// </summary>
public sealed class DecodeTokenBenchmark : IBenchmark
{
    public string Name => "decode-token";
    public string Description => "per-token decode time, (total − prefill) / tokens, greedy, batch 1 (ms)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        var tokens = BenchInputs.CaptionTokens;
        if (BenchRuns.Caption(Name, options, batch: 1, beams: 1, tokens: 1) is not { } prefill) return;
        var total = BenchRuns.Caption(Name, options, batch: 1, beams: 1, tokens)!.Value;
        var perToken = (total.MedianMs - prefill.MedianMs) / (tokens - 1);
        report.Metric(Name, options.Config, options, 1, "per_token", perToken, "ms",
            ("prefill_ms", prefill.MedianMs), ("total_ms", total.MedianMs), ("new_tokens", tokens));
        report.Metric(Name, options.Config, options, 1, "prefill", prefill.MedianMs, "ms", ("best", prefill.BestMs));
    }
}
