using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Weight-only kernels against libtorch on the opt-2.7b shapes (fc1 10240×2560, fc2 2560×10240, the LM head
/// 50272×2560), side by side in one process. On the CPU: float32 <c>linear</c>, bfloat16 <c>linear</c>, libtorch's
/// <c>_weight_int8pack_mm</c> (reached through TorchScript, which TorchSharp does not bind), this runtime's int8 and
/// int4 (group 128) kernels, and the CUDA route's scripts through the ops' CPU variants. On CUDA
/// (<c>--device cuda --dtype float16</c>): <c>linear</c> in the dtype against the runtime's CUDA routes
/// (<see cref="LibTorchWeightOnlyMatmul"/>): <c>_weight_int8pack_mm</c>, int8 dequantize + GEMM, and tinygemm's
/// <c>_weight_int4pack_mm</c> in bfloat16 and from the dtype, each also checked against the float product of the same
/// quantized weight (<c>max_error</c> as a fraction of max |x|·|W|ᵀ, <c>exact</c>: within the route's tolerance).
/// Rounds interleave the cases and the median over rounds is reported, so a neighbour's load on a shared machine hits
/// every case alike. Rows: 1 and 4 (decoding), 32 (prefill: the dequantize + GEMM paths).
/// </summary>
public sealed class QuantKernelsBenchmark : IBenchmark
{
    public string Name => "quant-kernels";
    public string Description => "int8/int4 weight-only GEMV/GEMM vs linear (CPU: float32, bfloat16, _weight_int8pack_mm; CUDA: libtorch's routes), ms per call";

    private static readonly (string Name, int Out, int In)[] Shapes = [("fc1", 10240, 2560), ("fc2", 2560, 10240), ("lm_head", 50272, 2560)];

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        torch.set_num_threads(options.Threads);
        var cuda = options.Device.StartsWith("cuda", StringComparison.Ordinal);
        var device = torch.device(options.Device);
        var dtype = cuda ? options.DType : ScalarType.Float32;
        using var jit = torch.jit.compile("def int8pack(x, w, s):\n    return torch._weight_int8pack_mm(x, w, s)\n");
        foreach (var (shape, outFeatures, inFeatures) in Shapes)
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(7);
            var weight = torch.normal(0, 0.02, [outFeatures, inFeatures], generator: generator);
            var int8 = Quantizer.Quantize(weight, QuantizationMode.Int8, 0);
            var int4 = Quantizer.Quantize(weight, QuantizationMode.Int4, QuantizationPlan.DefaultGroupSize);
            var int8Reference = int8.Dequantize();
            var int4Reference = int4.Dequantize();
            var int8Lt = LibTorchWeightOnlyMatmul.ToLibTorch(int8, device);
            var int4Lt = LibTorchWeightOnlyMatmul.ToLibTorch(int4, device);
            var float_ = weight.to(dtype, device);
            var bf16 = weight.to_type(ScalarType.BFloat16);
            var packScales = torch.tensor(int8.Scales);
            foreach (var rows in new[] { 1, 4, 32 })
            {
                var x = torch.randn([rows, inFeatures], generator: generator);
                var xd = x.to(dtype, device);
                var xb = x.to(ScalarType.BFloat16, device);
                var xbCpu = x.to_type(ScalarType.BFloat16);
                var cases = new List<(string Name, long Bytes, Action Run, Func<Tensor>? Output, Tensor? Input, Tensor? Reference, QuantizationMode Mode)>
                {
                    (cuda ? DTypeSpec.Name(dtype) : "float32", float_.NumberOfElements * float_.ElementSize, () => nn.functional.linear(xd, float_).Dispose(), null, null, null, QuantizationMode.None),
                };
                if (!cuda)
                    cases.AddRange([
                        ("bfloat16", bf16.NumberOfElements * 2, () => nn.functional.linear(xbCpu, bf16).Dispose(), null, null, null, QuantizationMode.None),
                        ("int8pack_mm", int8.Data.NumberOfElements + packScales.NumberOfElements * 4, () => jit.invoke<Tensor>("int8pack", x, int8.Data, packScales).Dispose(), null, null, null, QuantizationMode.None),
                        ("int8", int8.Bytes, () => int8.Forward(x, null).Dispose(), () => int8.Forward(x, null), x, int8Reference, QuantizationMode.Int8),
                        ("int4", int4.Bytes, () => int4.Forward(x, null).Dispose(), () => int4.Forward(x, null), x, int4Reference, QuantizationMode.Int4),
                    ]);
                // The CUDA routes (on the CPU: the same scripts through the ops' CPU variants).
                cases.AddRange([
                    ("lt int8pack_mm", int8Lt.Bytes, () => LibTorchWeightOnlyMatmul.Forward(int8Lt, xd, null, int8PackMaxRows: int.MaxValue).Dispose(),
                        () => LibTorchWeightOnlyMatmul.Forward(int8Lt, xd, null, int8PackMaxRows: int.MaxValue), xd, int8Reference, QuantizationMode.Int8),
                    ("lt int8 dequantize+gemm", int8Lt.Bytes, () => LibTorchWeightOnlyMatmul.Forward(int8Lt, xd, null, int8PackMaxRows: 0).Dispose(),
                        () => LibTorchWeightOnlyMatmul.Forward(int8Lt, xd, null, int8PackMaxRows: 0), xd, int8Reference, QuantizationMode.Int8),
                    ("lt int4pack_mm bfloat16", int4Lt.Bytes, () => int4Lt.Forward(xb, null).Dispose(), () => int4Lt.Forward(xb, null), xb, int4Reference, QuantizationMode.Int4),
                ]);
                if (dtype != ScalarType.BFloat16)
                    cases.Add(($"lt int4pack_mm from {DTypeSpec.Name(dtype)}", int4Lt.Bytes, () => int4Lt.Forward(xd, null).Dispose(), () => int4Lt.Forward(xd, null), xd, int4Reference, QuantizationMode.Int4));
                var samples = cases.Select(_ => new List<double>()).ToArray();
                for (var round = 0; round < Math.Max(3, options.Iterations); round++)
                    for (var c = 0; c < cases.Count; c++)
                        samples[c].Add(Measure.Time(cases[c].Run, options.Warmup, 5, options.Device).MedianMs);
                var baseline = Median(samples[0]);
                for (var c = 0; c < cases.Count; c++)
                {
                    var ms = Median(samples[c]);
                    var (caseName, bytes, _, output, input, reference, mode) = cases[c];
                    (string, object?)[] check = [];
                    if (output is not null && shape != "lm_head")   // the float64 check of a 50272-row head: 2 GB of temporaries
                    {
                        using var checkScope = NewDisposeScope();
                        var error = LibTorchWeightOnlyMatmul.Error(output(), input!, reference!);
                        var inputDtype = input!.dtype;
                        var tolerance = LibTorchWeightOnlyMatmul.ProbeTolerance(mode, inputDtype);
                        check = [("max_error", error), ("tolerance", tolerance), ("exact", error <= tolerance)];
                    }
                    report.Result(Name, $"{shape} {outFeatures}x{inFeatures} rows {rows} {caseName}",
                        [("ms", ms), ($"vs_{cases[0].Name}", ms / baseline), ("weight_mb", bytes / 1e6),
                        ("gb_per_s", bytes / 1e6 / ms), .. check, ("device", options.Device), ("threads", options.Threads), ("isa", KernelIsas.Best.ToString())]);
                }
            }
            foreach (var w in new[] { int8, int4 }) w.Data.Dispose();
            foreach (var w in new[] { int8Lt, int4Lt }) { w.Data.Dispose(); w.ScaleTensor!.Dispose(); }
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
