using System.Diagnostics;
using Blip2Compiler.Models;
using Blip2Compiler.Serving;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// The continuous-batching engine's decoding step (<see cref="IRowBatch.Step"/>: every running row decodes one
/// token) at batch 1 and batch 8, measured alternately in one run. A batch-8 step reads the same weights as a
/// batch-1 step, so on a memory-bound CPU it should cost little more. Target on `mid`: ≤ 1.6× the batch-1 step.
/// On `mid-t5` the same for Flan-T5's rows (their decoder step, cross-attention over each slot's encoder states);
/// the per-op breakdown is OPT's only.
/// </summary>
public sealed class EngineStepBenchmark : IBenchmark
{
    public string Name => "engine-step";
    public string Description => "engine decoding step, batch 8 vs batch 1, median ms (OPT and T5 captioning configs)";

    private const int Steps = 20, Warmup = 3, Rounds = 2;

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        OpenMpWaitPolicy.ApplyPassiveDefault();   // as blip2 serve / blip2 job do (takes effect only before libtorch loads)
        MallocReuse.Apply();   // as blip2 serve / blip2 job do
        if (BenchModels.Get(options.Config, options) is not Blip2ConditionalGeneration model)
        {
            Console.Error.WriteLine($"{Name}: {options.Config} is not a captioning config; skipped");
            return;
        }
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var pixels = BenchInputs.Pixels(model, 1);
        long[] prompt = BenchInputs.CaptionPrompt(model, 1).cpu().data<long>().ToArray();
        var times = new Dictionary<int, List<double>> { [1] = [], [8] = [] };
        for (var round = 0; round < Rounds; round++)
            foreach (var batch in new[] { 1, 8 })
            {
                using var rows = model.NewRowBatch(8, prompt.Length + Warmup + Steps + 1);
                rows.Admit([.. Enumerable.Repeat(new RowPrompt(pixels, prompt, 1), batch)]).Dispose();
                var tokens = Enumerable.Repeat(model.ModelInfo.BosTokenId ?? 2, batch).ToArray();
                for (var i = 0; i < Warmup + Steps; i++)
                {
                    var clock = Stopwatch.StartNew();
                    using var logits = rows.Step(tokens);
                    if (options.Device != "cpu") logits.cpu().Dispose();
                    if (i >= Warmup) times[batch].Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        var one = Median(times[1]);
        var eight = Median(times[8]);
        // The same model's own batched decoding for reference: a lone Generate's per-token time at batch 1 and 8,
        // (11 tokens − 1 token) / 10, in the same run — what the engine's step adds over it is its own cost.
        double LoneStep(int batch) =>
            (BenchRuns.Caption(Name, options, batch, beams: 1, tokens: 11)!.Value.MedianMs - BenchRuns.Caption(Name, options, batch, beams: 1, tokens: 1)!.Value.MedianMs) / 10;
        var loneOne = LoneStep(1);
        var loneEight = LoneStep(8);
        report.Metric(Name, options.Config, options, 1, "step", one, "ms", ("best", times[1].Min()), ("steps", times[1].Count), ("lone_generate_step_ms", loneOne));
        report.Metric(Name, options.Config, options, 8, "step", eight, "ms", ("best", times[8].Min()), ("steps", times[8].Count),
            ("ratio_to_batch1", eight / one), ("lone_generate_step_ms", loneEight), ("lone_ratio_to_batch1", loneEight / loneOne));

        // Where a step's time goes, per op class, each timed alone on the model's shapes at the step's window.
        if (model is not OptConditionalGeneration opt) return;
        var window = (prompt.Length + 32 + Warmup + Steps) / 32 * 32 + 32;
        foreach (var batch in new[] { 1, 8 })
        {
            var ops = StepOps.Time(opt, options, batch, window, Math.Max(Steps, 10));
            var step = batch == 1 ? one : eight;
            var inStep = ops.Where(o => !o.Key.EndsWith("_alt", StringComparison.Ordinal)).Sum(o => o.Value);
            var rest = step - inStep;
            report.Metric(Name, options.Config, options, batch, "ops", inStep, "ms",
                [.. ops.Select(o => (o.Key + "_ms", (object?)o.Value)), ("other_ms", rest), ("step_ms", step)]);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
