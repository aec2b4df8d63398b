using Blip2Compiler.Models;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// How close the runtime is to its GEMMs: the end-to-end caption (greedy, 30 new tokens, batch 1) against the same
/// run's weight GEMMs timed alone (<see cref="GemmPlan"/>), in one process, one after the other. Also per phase:
/// image encoding (vision + Q-Former + projection) and one decoding step, against their GEMMs. The CPU target is
/// ratio ≤ 1.3 on the mid config.
/// </summary>
public sealed class GemmFloorBenchmark : IBenchmark
{
    public string Name => "gemm-floor";
    public string Description => "end-to-end caption time / sum of its weight GEMMs timed alone (OPT configs)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        if (BenchModels.IsRetrieval(options.Config) || BenchModels.Info(options.Config).TextModelType != "opt")
        {
            Console.Error.WriteLine($"{Name}: the GEMM plan covers decoder-only (OPT) captioning configs; {options.Config} skipped");
            return;
        }
        var model = BenchModels.Get(options.Config, options);
        var info = model.ModelInfo;
        using var scope = NewDisposeScope();
        var pixels = BenchInputs.Pixels(model, 1);
        var prompt = BenchInputs.CaptionPrompt(model, 1);
        var tokens = BenchInputs.CaptionTokens;
        var plan = GemmPlan.ForCaption(BenchModels.KeyMap(options.Config), info.ImageSize, info.PatchSize, info.NumQueryTokens,
            prompt.shape[1], tokens, batch: 1);
        using var gemms = new GemmRunner(plan, model.DType, model.Device);

        Measure.Latency Time(Action a) => Measure.Time(a, options.Warmup, options.Iterations, options.Device);
        var e2e = Time(() => BenchInputs.Generate(model, pixels, prompt, BenchInputs.Caption(tokens, 1)));
        var prefill = Time(() => BenchInputs.Generate(model, pixels, prompt, BenchInputs.Caption(1, 1)));
        var encode = Time(() => ImageEncodingBenchmark.Encode(model, pixels).Dispose());
        var gemmVision = Time(() => gemms.Run(plan.Vision));
        var gemmQFormer = Time(() => gemms.Run(plan.QFormer));
        var gemmPrefill = Time(() => gemms.Run(plan.Prefill));
        var gemmDecode = Time(() => { for (var i = 0; i < plan.DecodeSteps; i++) gemms.Run(plan.DecodeStep); });

        var gemmSum = gemmVision.MedianMs + gemmQFormer.MedianMs + gemmPrefill.MedianMs + gemmDecode.MedianMs;
        var gemmEncode = gemmVision.MedianMs + gemmQFormer.MedianMs;
        var decodeStep = (e2e.MedianMs - prefill.MedianMs) / plan.DecodeSteps;
        var gemmStep = gemmDecode.MedianMs / plan.DecodeSteps;
        var count = plan.Vision.Count + plan.QFormer.Count + plan.Prefill.Count + plan.DecodeStep.Count * plan.DecodeSteps;
        void Line(string metric, double value, string unit, params (string, object?)[] extra) =>
            report.Metric(Name, options.Config, options, 1, metric, value, unit, extra);

        Line("ratio", e2e.MedianMs / gemmSum, "x", ("e2e_ms", e2e.MedianMs), ("gemm_sum_ms", gemmSum), ("gemms", count), ("new_tokens", tokens));
        Line("e2e", e2e.MedianMs, "ms", ("best", e2e.BestMs));
        Line("gemm_sum", gemmSum, "ms", ("vision_ms", gemmVision.MedianMs), ("qformer_ms", gemmQFormer.MedianMs),
            ("prefill_ms", gemmPrefill.MedianMs), ("decode_ms", gemmDecode.MedianMs));
        Line("encode_ratio", encode.MedianMs / gemmEncode, "x", ("encode_ms", encode.MedianMs), ("gemm_ms", gemmEncode));
        Line("decode_step_ratio", decodeStep / gemmStep, "x", ("step_ms", decodeStep), ("gemm_ms", gemmStep));
        // Prefill run = encode + prompt forward + first token: what is left after encoding, against the prompt's GEMMs.
        Line("prompt_ratio", (prefill.MedianMs - encode.MedianMs) / gemmPrefill.MedianMs, "x",
            ("prompt_ms", prefill.MedianMs - encode.MedianMs), ("gemm_ms", gemmPrefill.MedianMs));
    }
}
