using static TorchSharp.torch;

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
        if (BenchModels.IsRetrieval(options.Config)) { Console.Error.WriteLine($"{Name}: {options.Config} does not generate; skipped"); return; }
        var model = BenchModels.Get(options.Config, options);
        using var scope = NewDisposeScope();
        var pixels = BenchInputs.Pixels(model, 1);
        var prompt = BenchInputs.CaptionPrompt(model, 1);
        var tokens = BenchInputs.CaptionTokens;
        var prefill = Measure.Time(() => BenchInputs.Generate(model, pixels, prompt, BenchInputs.Caption(1, 1)),
            options.Warmup, options.Iterations, options.Device);
        var total = Measure.Time(() => BenchInputs.Generate(model, pixels, prompt, BenchInputs.Caption(tokens, 1)),
            options.Warmup, options.Iterations, options.Device);
        var perToken = (total.MedianMs - prefill.MedianMs) / (tokens - 1);
        report.Metric(Name, options.Config, options, 1, "per_token", perToken, "ms",
            ("prefill_ms", prefill.MedianMs), ("total_ms", total.MedianMs), ("new_tokens", tokens));
        report.Metric(Name, options.Config, options, 1, "prefill", prefill.MedianMs, "ms", ("best", prefill.BestMs));
    }
}
