using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Host time per small libtorch op through TorchSharp, under no_grad and under inference mode, in one run: the cost a
/// call-bound decoding step pays per op (a GEMM + ReLU, a head split, a cache write and a residual add on tiny tensors,
/// repeated). Why <c>GenerationLoop.Generate</c> runs in inference mode.
/// </summary>
public sealed class OpOverheadBenchmark : IBenchmark
{
    private const int OpsPerBlock = 6, Blocks = 20;

    public string Name => "op-overhead";
    public string Description => "host µs per small op: no_grad vs inference_mode (tiny tensors on --device)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        torch.set_num_threads(options.Threads);
        var device = torch.device(options.Device);
        using var scope = NewDisposeScope();
        var h = torch.randn(new long[] { 1, 1, 64 }, device: device);
        var w = torch.randn(new long[] { 64, 64 }, device: device);
        var b = torch.randn(new long[] { 64 }, device: device);
        var q = torch.randn(new long[] { 1, 8, 1, 8 }, device: device);
        var cache = torch.zeros(new long[] { 1, 8, 16, 8 }, device: device);
        var position = torch.zeros(new long[] { 1 }, ScalarType.Int64, device);

        void Step()
        {
            using var stepScope = NewDisposeScope();
            var x = h;
            for (var i = 0; i < Blocks; i++)
            {
                var y = nn.functional.linear(x, w, b).relu_();
                y.unflatten(2, new[] { 8L, -1 }).transpose(1, 2);
                cache.index_copy_(2, position, q);
                x = y.add_(x);
            }
        }

        double MicrosecondsPerOp(Func<IDisposable> mode)
        {
            using (mode())
            {
                for (var i = 0; i < 200 * options.Warmup + 200; i++) Step();
                if (options.Device != "cpu") torch.cuda.synchronize();
                var clock = Stopwatch.StartNew();
                var steps = 1000 * options.Iterations;
                for (var i = 0; i < steps; i++) Step();
                if (options.Device != "cpu") torch.cuda.synchronize();
                return clock.Elapsed.TotalMicroseconds / steps / (OpsPerBlock * Blocks);
            }
        }

        // Alternate the modes so machine noise falls on both.
        var noGrad = new List<double>();
        var inference = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            noGrad.Add(MicrosecondsPerOp(() => torch.no_grad()));
            inference.Add(MicrosecondsPerOp(() => torch.inference_mode()));
        }
        double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
        report.Metric(Name, "-", options, 1, "no_grad", Median(noGrad), "us/op");
        report.Metric(Name, "-", options, 1, "inference_mode", Median(inference), "us/op", ("ratio", Median(inference) / Median(noGrad)));
    }
}
