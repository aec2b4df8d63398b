using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>Caption latency with beam search: 5 beams, 30 new tokens, batch 1.</summary>
public sealed class BeamSearchBenchmark : IBenchmark
{
    private const int Beams = 5;

    public string Name => "beam";
    public string Description => "caption latency, 5 beams, 30 new tokens, batch 1 (ms)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        if (BenchModels.IsRetrieval(options.Config)) { Console.Error.WriteLine($"{Name}: {options.Config} does not generate; skipped"); return; }
        var model = BenchModels.Get(options.Config, options);
        using var scope = NewDisposeScope();
        var pixels = BenchInputs.Pixels(model, 1);
        var prompt = BenchInputs.CaptionPrompt(model, 1);
        var generation = BenchInputs.Caption(BenchInputs.CaptionTokens, Beams);
        var time = Measure.Time(() => BenchInputs.Generate(model, pixels, prompt, generation), options.Warmup, options.Iterations, options.Device);
        report.Metric(Name, options.Config, options, 1, "latency", time.MedianMs, "ms", ("best", time.BestMs), ("beams", Beams),
            ("new_tokens", BenchInputs.CaptionTokens));
    }
}
