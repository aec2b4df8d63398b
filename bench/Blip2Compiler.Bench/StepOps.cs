using System.Diagnostics;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Bench;

/// <summary>
/// One OPT decoding step of the continuous-batching engine taken apart: each op class it runs, timed alone on the
/// model's own shapes for <c>rows</c> rows and a <c>window</c>-position cache, so a step's time can be split into
/// linears (the layers' weight GEMMs), the LM head, attention with per-row masks, the KV-cache scatter, the step's
/// mask and positions, and the per-row token choice; what the sum leaves of the whole step is the rest (layer norms,
/// residual adds, ReLU, embeddings, dispatch).
/// </summary>
public static class StepOps
{
    public static Dictionary<string, double> Time(OptConditionalGeneration model, BenchmarkOptions options, int rows, int window, int repeats)
    {
        var info = model.ModelInfo;
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var dtype = model.DType;
        var device = model.Device;
        var plan = GemmPlan.ForCaption(BenchModels.KeyMap(options.Config), info.ImageSize, info.PatchSize, info.NumQueryTokens, 1, 2, rows);
        var head = plan.DecodeStep.Where(g => g.Out == info.VocabSize).ToList();
        var linears = plan.DecodeStep.Where(g => g.Out != info.VocabSize).ToList();
        using var generator = new Generator(7, device);
        var weights = plan.DecodeStep.ToDictionary(g => g, g => (W: normal(0, 0.02, new[] { g.Out, g.In }, dtype, device, generator: generator),
            B: g.Bias ? zeros(new[] { g.Out }, dtype, device) : null));
        var inputs = plan.DecodeStep.Select(g => g.In).Distinct().ToDictionary(k => k, k => randn(new long[] { rows, 1, k }, dtype, device));
        // What the model runs (Ops.Linear: the few-rows kernel where it applies) and libtorch's addmm alone.
        void Run(IEnumerable<Gemm> list, bool addmm)
        {
            foreach (var g in list)
            {
                var (w, b) = weights[g];
                using var y = addmm ? nn.functional.linear(inputs[g.In], w, b) : Ops.Linear(inputs[g.In], w, b);
            }
        }

        var layers = (int)info.TextLayers;
        var heads = info.TextHeads;
        var headDim = info.TextHeadDim;
        var capacity = window + 32;
        var keys = zeros(new long[] { 8, heads, capacity, headDim }, dtype, device).normal_();
        var values = zeros(new long[] { 8, heads, capacity, headDim }, dtype, device).normal_();
        var q = randn(new long[] { rows, heads, 1, headDim }, dtype, device);
        var newKv = randn(new long[] { rows, heads, 1, headDim }, dtype, device);
        var written = arange(rows, dtype: ScalarType.Int64, device: device) + (window - 32);
        var padding = zeros(rows, capacity, dtype: ScalarType.Int64, device: device);
        padding.narrow(1, 0, window - 32).fill_(1);
        var one = ones(rows, 1, dtype: ScalarType.Int64, device: device);
        var logits = randn(new long[] { rows, info.VocabSize }, ScalarType.Float32, device);
        var penalty = LogitsProcessorList.For(GenerationPlan.Resolve(new GenerationOptions { RepetitionPenalty = 1.2, MaxNewTokens = 30 }, 40));
        var history = randint(0, info.VocabSize, new long[] { 1, 40 }, device: device);

        double Median(Action op)
        {
            for (var i = 0; i < 2; i++) op();
            var samples = new List<double>();
            for (var i = 0; i < repeats; i++)
            {
                var start = Stopwatch.GetTimestamp();
                op();
                Measure.Synchronize(options.Device);
                samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            samples.Sort();
            return samples[samples.Count / 2];
        }

        var result = new Dictionary<string, double>
        {
            ["linears"] = Median(() => Run(linears, addmm: false)),
            ["lm_head"] = Median(() => Run(head, addmm: false)),
            ["attention"] = Median(() =>
            {
                using var s = NewDisposeScope();
                var ctx = new ForwardContext();
                var mask = Ops.PaddingMask(padding.narrow(1, 0, window));
                for (var layer = 0; layer < layers; layer++)
                    Ops.Attention(ctx, q, keys.narrow(0, 0, rows).narrow(2, 0, window), values.narrow(0, 0, rows).narrow(2, 0, window), mask, Math.Pow(headDim, -0.5));
                ctx.ReleasePrepared();
            }),
            ["kv_scatter"] = Median(() =>
            {
                using var s = NewDisposeScope();
                var index = written.view(rows, 1, 1, 1).expand(rows, heads, 1, headDim);
                for (var layer = 0; layer < layers; layer++)
                {
                    keys.narrow(0, 0, rows).scatter_(2, index, newKv);
                    values.narrow(0, 0, rows).scatter_(2, index, newKv);
                }
            }),
            ["mask_positions"] = Median(() =>
            {
                using var s = NewDisposeScope();
                var at = tensor(Enumerable.Range(0, rows).Select(r => (long)(window - 32 + r)).ToArray(), ScalarType.Int64, device);
                var mask = padding.narrow(0, 0, rows);
                mask.scatter_(1, at.unsqueeze(1), one);
                var seen = mask.narrow(1, 0, window);
                var positions = seen.sum(new long[] { 1 }, keepdim: true) + 1;
                Ops.PaddingMask(seen);
            }),
            ["choose_greedy"] = Median(() =>
            {
                using var s = NewDisposeScope();
                using var host = logits.argmax(-1).cpu();
                host.data<long>().ToArray();
            }),
            ["choose_per_row_penalty_alt"] = Median(() =>
            {
                // Every row with its own logits processor (repetition penalty), as a batch of requests with options.
                using var s = NewDisposeScope();
                var choice = logits.argmax(-1);
                for (var r = 0; r < rows; r++)
                    choice.narrow(0, r, 1).copy_(penalty.Process(history, logits.narrow(0, r, 1)).argmax(-1));
                using var host = choice.cpu();
                host.data<long>().ToArray();
            }),
        };
        // Alternatives, not summed into the step (suffix _alt): the same products through libtorch's addmm.
        result["linears_addmm_alt"] = Median(() => Run(linears, addmm: true));
        result["lm_head_addmm_alt"] = Median(() => Run(head, addmm: true));
        return result;
    }
}
