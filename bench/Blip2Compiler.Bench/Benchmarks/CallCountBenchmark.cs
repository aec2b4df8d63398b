using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Calls into libtorch (through TorchSharp's native library) per decoding step, counted rather than timed: on a GPU a
/// step costs about 6.5 µs of host time per call, so the count predicts decode time there, and it is the same on any
/// machine. Per step = (calls of a 30-token caption − calls of a 1-token one) / 29, greedy, batch 1; with the
/// functions that make up a step. Runs under bench/callcount/run.sh (which preloads the counter).
/// </summary>
public sealed class CallCountBenchmark : IBenchmark
{
    public string Name => "calls";
    public string Description => "libtorch calls per decode step (counted; run under bench/callcount/run.sh)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        if (BenchModels.IsRetrieval(options.Config)) { Console.Error.WriteLine($"{Name}: {options.Config} does not generate; skipped"); return; }
        if (CallCounter.Find(out var why) is not { } counter) { Console.Error.WriteLine($"{Name}: skipped, {why}"); return; }
        var model = BenchModels.Get(options.Config, options);
        using var scope = NewDisposeScope();
        var pixels = BenchInputs.Pixels(model, 1);
        var prompt = BenchInputs.CaptionPrompt(model, 1);
        var tokens = BenchInputs.CaptionTokens;

        Dictionary<string, long> Count(int newTokens)
        {
            var generation = BenchInputs.Caption(newTokens, 1);
            BenchInputs.Generate(model, pixels, prompt, generation);   // warm: lazily made tensors are made here
            var before = counter.Snapshot();
            BenchInputs.Generate(model, pixels, prompt, generation);
            return CallCounter.Between(before, counter.Snapshot());
        }

        var prefill = Count(1);
        var total = Count(tokens);
        var perStep = total.Keys.Union(prefill.Keys)
            .Select(k => (Function: k, Calls: (total.GetValueOrDefault(k) - prefill.GetValueOrDefault(k)) / (double)(tokens - 1)))
            .Where(p => p.Calls > 0).OrderByDescending(p => p.Calls).ToList();
        var info = BenchModels.Info(options.Config);
        var step = perStep.Sum(p => p.Calls);
        report.Metric(Name, options.Config, options, 1, "per_decode_step", step, "calls",
            ("per_layer", step / info.TextLayers), ("layers", info.TextLayers), ("prefill_calls", prefill.Values.Sum()),
            ("functions", perStep.Take(60).ToDictionary(p => p.Function, p => Math.Round(p.Calls, 2))));
    }
}
