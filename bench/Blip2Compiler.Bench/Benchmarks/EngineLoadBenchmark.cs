using System.Diagnostics;
using Blip2Compiler.Generation;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// In-process load on the continuous-batching engine: 1, 2, 4, 8, 16 closed-loop callers, each sending a greedy
/// 30-token caption request (the bundled photo) as soon as its last one returned; captions/s and p50/p99 latency,
/// with sequential lone <c>Caption</c> calls measured in the same run. Targets on `mid` at 8 callers: ≥ 4× the
/// single-caller throughput, p50 ≤ 2.5× a lone request's latency.
/// </summary>
public sealed class EngineLoadBenchmark : IBenchmark
{
    public string Name => "engine-load";
    public string Description => "engine throughput and latency, 1-16 closed-loop callers, greedy, 30 new tokens";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        OpenMpWaitPolicy.ApplyPassiveDefault();   // as blip2 serve / blip2 job do (takes effect only before libtorch loads)
        MallocReuse.Apply();   // as blip2 serve / blip2 job do
        if (BenchModels.IsRetrieval(options.Config))
        {
            Console.Error.WriteLine($"{Name}: {options.Config} does not generate; skipped");
            return;
        }
        var model = BenchModels.Get(options.Config, options);
        var captioner = BenchCaptioner.For(model);
        var tokens = BenchInputs.CaptionTokens;
        // Exactly 30 tokens whatever the random weights pick: EOS is suppressed until then (as serve-load). An EOS id
        // past the vocabulary, as before, is refused now that generation options are checked against it.
        var generation = new GenerationOptions { MaxNewTokens = tokens, MinNewTokens = tokens };
        var photo = BenchCaptioner.Photo;

        var lone = Measure.Time(() => captioner.Caption([photo], null, generation), options.Warmup, options.Iterations, options.Device);
        report.Metric(Name, options.Config, options, 1, "sequential", 1000 / lone.MedianMs, "captions/s", ("latency_ms", lone.MedianMs), ("new_tokens", tokens));

        var engine = new ContinuousBatchingEngine(captioner, new EngineOptions { MaxBatch = 16, MaxQueue = 64, MaxSequenceLength = 64 });
        try
        {
            var request = new EngineRequest { Image = photo, Options = generation };
            engine.GenerateAsync(request).GetAwaiter().GetResult();   // warm
            double? single = null;
            foreach (var callers in new[] { 1, 2, 4, 8, 16 })
            {
                var perCaller = Math.Max(2, options.Iterations);
                var latencies = new List<double>();
                var wall = Stopwatch.StartNew();
                Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
                {
                    for (var i = 0; i < perCaller; i++)
                    {
                        var clock = Stopwatch.StartNew();
                        await engine.GenerateAsync(request);
                        lock (latencies) latencies.Add(clock.Elapsed.TotalMilliseconds);
                    }
                }))).GetAwaiter().GetResult();
                var seconds = wall.Elapsed.TotalSeconds;
                var throughput = latencies.Count / seconds;
                single ??= throughput;
                latencies.Sort();
                var p50 = latencies[(latencies.Count - 1) / 2];
                var p99 = latencies[(int)Math.Ceiling(0.99 * latencies.Count) - 1];
                report.Metric(Name, options.Config, options, callers, "throughput", throughput, "captions/s",
                    ("p50_ms", p50), ("p99_ms", p99), ("requests", latencies.Count), ("ratio_to_1_caller", throughput / single),
                    ("ratio_to_sequential", throughput * lone.MedianMs / 1000), ("p50_over_lone", p50 / lone.MedianMs),
                    ("failed", engine.Statistics.FailedRequests), ("steps", engine.Statistics.DecodingSteps));
            }
        }
        finally
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
