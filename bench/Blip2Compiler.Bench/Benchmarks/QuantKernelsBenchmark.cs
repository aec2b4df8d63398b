using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Weight-only kernels against libtorch on the opt-2.7b shapes (fc1 10240×2560, fc2 2560×10240, the LM head
/// 50272×2560), side by side in one process: float32 <c>linear</c>, bfloat16 <c>linear</c>, libtorch's
/// <c>_weight_int8pack_mm</c> (reached through TorchScript, which TorchSharp does not bind), and this runtime's int8
/// and int4 (group 128) kernels. Rounds interleave the cases and the median over rounds is reported, so a neighbour's
/// load on a shared machine hits every case alike. Rows: 1 and 4 (decoding), 32 (prefill: the dequantize + GEMM path).
/// </summary>
public sealed class QuantKernelsBenchmark : IBenchmark
{
    public string Name => "quant-kernels";
    public string Description => "int8/int4 weight-only GEMV/GEMM vs float32, bfloat16 linear and _weight_int8pack_mm (ms per call)";

    private static readonly (string Name, int Out, int In)[] Shapes = [("fc1", 10240, 2560), ("fc2", 2560, 10240), ("lm_head", 50272, 2560)];

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        torch.set_num_threads(options.Threads);
        using var jit = torch.jit.compile("def int8pack(x, w, s):\n    return torch._weight_int8pack_mm(x, w, s)\n");
        foreach (var (shape, outFeatures, inFeatures) in Shapes)
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(7);
            var weight = torch.normal(0, 0.02, [outFeatures, inFeatures], generator: generator);
            var bf16 = weight.to_type(ScalarType.BFloat16);
            var int8 = Quantizer.Quantize(weight, QuantizationMode.Int8, 0);
            var int4 = Quantizer.Quantize(weight, QuantizationMode.Int4, QuantizationPlan.DefaultGroupSize);
            var packScales = torch.tensor(int8.Scales);
            foreach (var rows in new[] { 1, 4, 32 })
            {
                var x = torch.randn([rows, inFeatures], generator: generator);
                var xb = x.to_type(ScalarType.BFloat16);
                var cases = new (string Name, long Bytes, Action Run)[]
                {
                    ("float32", weight.NumberOfElements * 4, () => nn.functional.linear(x, weight).Dispose()),
                    ("bfloat16", bf16.NumberOfElements * 2, () => nn.functional.linear(xb, bf16).Dispose()),
                    ("int8pack_mm", int8.Data.NumberOfElements + packScales.NumberOfElements * 4, () => jit.invoke<Tensor>("int8pack", x, int8.Data, packScales).Dispose()),
                    ("int8", int8.Bytes, () => int8.Forward(x, null).Dispose()),
                    ("int4", int4.Bytes, () => int4.Forward(x, null).Dispose()),
                };
                var samples = cases.Select(_ => new List<double>()).ToArray();
                for (var round = 0; round < Math.Max(3, options.Iterations); round++)
                    for (var c = 0; c < cases.Length; c++)
                        samples[c].Add(Measure.Time(cases[c].Run, options.Warmup, 5, options.Device).MedianMs);
                var fp32 = Median(samples[0]);
                for (var c = 0; c < cases.Length; c++)
                {
                    var ms = Median(samples[c]);
                    report.Result(Name, $"{shape} {outFeatures}x{inFeatures} rows {rows} {cases[c].Name}",
                        ("ms", ms), ("vs_float32", ms / fp32), ("weight_mb", cases[c].Bytes / 1e6),
                        ("gb_per_s", cases[c].Bytes / 1e6 / ms), ("threads", options.Threads), ("isa", KernelIsas.Best.ToString()));
                }
            }
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
