using Blip2Compiler.Models;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Bench;

/// <summary>The timed runs the model benchmarks are made of: captioning (greedy or beam) and retrieval calls.</summary>
public static class BenchRuns
{
    /// <summary>
    /// Times <c>Generate</c> of <paramref name="tokens"/> new tokens for <paramref name="batch"/> images (the
    /// captioning prompt, <paramref name="beams"/> beams); null, with a note, when the config does not generate.
    /// </summary>
    public static Measure.Latency? Caption(string benchmark, BenchmarkOptions options, int batch, int beams, int tokens)
    {
        if (BenchModels.IsRetrieval(options.Config))
        {
            Console.Error.WriteLine($"{benchmark}: {options.Config} does not generate; skipped");
            return null;
        }
        var model = BenchModels.Get(options.Config, options);
        using var scope = NewDisposeScope();
        var pixels = BenchInputs.Pixels(model, batch);
        var prompt = BenchInputs.CaptionPrompt(model, batch);
        var generation = BenchInputs.Caption(tokens, beams);
        var generating = (Blip2ConditionalGeneration)model;
        generating.DecodingStep = options.DecodingStep;
        var replays = generating.GraphReplays;
        var time = Measure.Time(() => BenchInputs.Generate(model, pixels, prompt, generation), options.Warmup, options.Iterations, options.Device);
        ReplayedGraphs = generating.GraphReplays > replays;
        if (generating.DecodingStepNote is { } note && NotedSteps.Add(note)) Console.Error.WriteLine($"{benchmark}: {note}");
        return time;
    }

    /// <summary>Whether the last <see cref="Caption"/> replayed CUDA graphs (its JSON lines then say
    /// <c>"cuda_graphs": true</c>).</summary>
    public static bool ReplayedGraphs { get; private set; }

    private static readonly HashSet<string> NotedSteps = new();

    /// <summary>Times <paramref name="call"/> on the retrieval config of --config with 32 images and 32 texts, and
    /// reports pairs/s.</summary>
    public static void Retrieval(string benchmark, BenchmarkOptions options, JsonReport report, Action<ImageTextRetrieval, Tensor, Tensor> call)
    {
        const int batch = 32;
        var config = BenchModels.RetrievalConfig(options.Config);
        var model = (ImageTextRetrieval)BenchModels.Get(config, options);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var pixels = BenchInputs.Pixels(model, batch);
        var text = BenchInputs.Text(model, batch);
        var time = Measure.Time(() => call(model, pixels, text), options.Warmup, options.Iterations, options.Device);
        report.Metric(benchmark, config, options, batch, "throughput", batch * 1000 / time.MedianMs, "pairs/s",
            ("latency_ms", time.MedianMs), ("text_tokens", BenchInputs.TextTokens));
    }
}
