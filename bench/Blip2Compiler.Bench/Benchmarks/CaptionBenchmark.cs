using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>End-to-end caption latency: pixels → 30 greedy tokens, batch 1 (vision, Q-Former, prefill and decode).</summary>
public sealed class CaptionBenchmark : IBenchmark
{
    public string Name => "caption";
    public string Description => "end-to-end caption latency, greedy, 30 new tokens, batch 1 (ms)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        if (BenchModels.IsRetrieval(options.Config)) { Console.Error.WriteLine($"{Name}: {options.Config} does not generate; skipped"); return; }
        var model = BenchModels.Get(options.Config, options);
        using var scope = NewDisposeScope();
        var pixels = BenchInputs.Pixels(model, 1);
        var prompt = BenchInputs.CaptionPrompt(model, 1);
        var generation = BenchInputs.Caption(BenchInputs.CaptionTokens, 1);
        var time = Measure.Time(() => BenchInputs.Generate(model, pixels, prompt, generation),
            options.Warmup, options.Iterations, options.Device);
        report.Metric(Name, options.Config, options, 1, "latency", time.MedianMs, "ms", ("best", time.BestMs), ("new_tokens", BenchInputs.CaptionTokens));
    }
}
