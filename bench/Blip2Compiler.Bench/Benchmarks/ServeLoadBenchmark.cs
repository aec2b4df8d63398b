using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Blip2.Cli.Serving;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;
using Blip2Compiler.Serving;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// `blip2 serve` under load: closed-loop clients (1, 2, 4, 8, 16; each sends its next request when the last is
/// answered) against the real server on a loopback port, greedy captions of exactly 30 new tokens, on both engines;
/// and lone `Caption` calls in the same run (the single-request baseline). Reports captions/s, p50 and p99 latency in the
/// steady state, --seconds of it after a ramp (<see cref="Load"/>; the whole run's captions/s beside them), failed requests and the process's working set after each case. With <c>--soak N</c>, the continuous engine then
/// answers N more requests from 8 closed-loop clients (4 new tokens each: memory is per request, not per token),
/// reporting resident and managed memory at every tenth of them, so a leak shows as growth.
/// </summary>
public sealed class ServeLoadBenchmark : IBenchmark
{
    public string Name => "serve-load";
    public string Description => "blip2 serve, closed-loop clients 1-16, greedy 30 tokens: captions/s, p50/p99 (both engines, lone Caption baseline)";

    private static readonly int[] Clients = [1, 2, 4, 8, 16];

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        OpenMpWaitPolicy.ApplyPassiveDefault();   // as blip2 serve / blip2 job do (takes effect only before libtorch loads)
        MallocReuse.Apply();   // as blip2 serve / blip2 job do
        if (BenchModels.Get(options.Config, options) is not Blip2ConditionalGeneration model)
        {
            Console.Error.WriteLine($"serve-load runs on a captioning config (mid, mid-t5, opt-2.7b, flan-t5-xl), not {options.Config}");
            return;
        }
        var files = Path.Combine(AppContext.BaseDirectory, "Configs", "mid-serving");
        // mid-serving's tokenizer is OPT's; a Flan-T5 config gets the benchmarks' stand-in tokenizer (its text is the
        // ids: Flan-T5's spiece.model is not here), which a caption request (no text) needs no more of.
        var captioner = model is OptConditionalGeneration
            ? new Blip2Captioner(model, Blip2ImageProcessor.Load(files), TokenizerLoader.Load(files))
            : BenchCaptioner.For(model);
        // Exactly 30 tokens whatever the random weights pick: EOS is suppressed until then.
        var generation = new GenerationOptions { MaxNewTokens = BenchInputs.CaptionTokens, MinNewTokens = BenchInputs.CaptionTokens };
        var png = Photo();

        var lone = new List<double>();
        var image = ImageSource.FromBytes(png, "bench.png");
        captioner.Caption([image], [null], generation);   // warm-up
        var loneClock = Stopwatch.StartNew();
        while (loneClock.Elapsed.TotalSeconds < options.SecondsPerCase || lone.Count < 3)
        {
            var t = Stopwatch.GetTimestamp();
            captioner.Caption([image], [null], generation);
            lone.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
        report.Result(Name, "lone Caption", ("captions_per_s", lone.Count / loneClock.Elapsed.TotalSeconds), ("p50_ms", Percentile(lone, 50)),
            ("p99_ms", Percentile(lone, 99)), ("requests", lone.Count), ("config", options.Config), ("threads", options.Threads));

        foreach (var kind in options.Engines ?? ["continuous", "sequential"])
        {
            var engineOptions = new EngineOptions { MaxBatch = 8, MaxQueue = 64 };
            if (options.AdmissionWindowMs is { } window) engineOptions = engineOptions with { AdmissionWindow = TimeSpan.FromMilliseconds(window) };
            IGenerationEngine engine = kind == "continuous" ? new ContinuousBatchingEngine(captioner, engineOptions) : new SequentialEngine(captioner, engineOptions);
            var served = ServedModel.ForGeneration(options.Config, engine);
            using var host = Blip2Server.Build(served, new ServerOptions(), "127.0.0.1", 0);
            host.StartAsync().GetAwaiter().GetResult();
            var address = new Uri(host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(10) };
            string Body(int tokens) => JsonSerializer.Serialize(new
            {
                model = options.Config, max_tokens = tokens, min_tokens = tokens,
                messages = new[] { new { role = "user", content = new object[] { new { type = "image_url", image_url = new { url = "data:image/png;base64," + Convert.ToBase64String(png) } } } } },
            });
            var body = Body(BenchInputs.CaptionTokens);
            Send(http, body).GetAwaiter().GetResult();   // warm-up
            foreach (var clients in options.Clients ?? Clients)
            {
                var load = Load(http, body, clients, options.SecondsPerCase).GetAwaiter().GetResult();
                report.Result(Name, $"{kind} engine, {clients} clients",
                    ("captions_per_s", load.Count / load.Seconds), ("p50_ms", Percentile(load.Latencies, 50)), ("p99_ms", Percentile(load.Latencies, 99)),
                    ("requests", load.Count), ("failed", load.Failed), ("steady_s", load.Seconds),
                    ("captions_per_s_whole_run", load.AllCount / load.AllSeconds), ("requests_whole_run", load.AllCount), ("seconds_whole_run", load.AllSeconds),
                    ("working_set_mb", Environment.WorkingSet / 1048576.0),
                    ("config", options.Config), ("threads", options.Threads), ("max_batch", engineOptions.MaxBatch),
                    ("admission_window_ms", engineOptions.AdmissionWindow.TotalMilliseconds));
            }
            if (kind == "continuous" && options.Soak > 0) Soak(http, Body(4), options, report, engine);
            host.StopAsync().GetAwaiter().GetResult();
            served.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static async Task<bool> Send(HttpClient http, string body, int tokens = BenchInputs.CaptionTokens)
    {
        using var response = await http.PostAsync("/v1/chat/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        if (!response.IsSuccessStatusCode) return false;
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return json.GetProperty("usage").GetProperty("completion_tokens").GetInt32() == tokens;
    }

    /// <summary>N requests, 8 clients: resident and managed memory (after a full GC) at every tenth, and the end state.</summary>
    private void Soak(HttpClient http, string body, BenchmarkOptions options, JsonReport report, IGenerationEngine engine)
    {
        const int clients = 8;
        var total = options.Soak;
        int sent = 0, done = 0, failed = 0;
        var samples = new List<(int Requests, double ResidentMb, double ManagedMb)>();
        void Sample()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            samples.Add((done, ProcessMemory.Current() / 1048576.0, GC.GetTotalMemory(true) / 1048576.0));
        }
        Sample();
        var clock = Stopwatch.StartNew();
        Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            while (Interlocked.Increment(ref sent) <= total)
            {
                var ok = await Send(http, body, tokens: 4);
                if (!ok) Interlocked.Increment(ref failed);
                var n = Interlocked.Increment(ref done);
                if (n % Math.Max(1, total / 10) == 0) lock (samples) Sample();
            }
        })).GetAwaiter().GetResult();
        var seconds = clock.Elapsed.TotalSeconds;
        var stats = engine.Statistics;
        var first = samples[0];
        var last = samples[^1];
        report.Result(Name, $"continuous engine, soak of {total} requests",
            ("requests", total), ("failed", failed), ("seconds", seconds), ("requests_per_s", total / seconds),
            ("resident_mb_start", first.ResidentMb), ("resident_mb_end", last.ResidentMb), ("resident_mb_max", samples.Max(s => s.ResidentMb)),
            ("managed_mb_start", first.ManagedMb), ("managed_mb_end", last.ManagedMb),
            ("resident_mb_samples", string.Join(" ", samples.Select(s => $"{s.Requests}:{s.ResidentMb:F0}"))),
            ("running_rows_after", stats.RunningRows), ("queue_depth_after", stats.QueueDepth),
            ("config", options.Config), ("threads", options.Threads), ("new_tokens", 4));
    }

    /// <summary>What one client count measured: the steady state (requests completed after the ramp, over the time from
    /// the ramp's end to the last of them), and the whole run with its ramp and drain.</summary>
    private sealed record LoadResult(int Count, int Failed, List<double> Latencies, double Seconds, int AllCount, double AllSeconds);

    /// <summary>
    /// Closed-loop clients, measured in the steady state. Every client first completes one request (the ramp: all of
    /// them start at once, so the first requests queue behind one another's encoding); the clients then go on sending
    /// for <paramref name="seconds"/> more, and throughput is the requests completed in that time over the time from
    /// the ramp's end (itself a completion) to the last of them: n completions, n intervals. Completions come in
    /// bursts (rows admitted together finish at the same step), so counting a fixed window would count a burst or
    /// not by chance (8 clients: ±8 requests in 20 s, measured: 32 against a whole-run 48/25 s); the interval
    /// between completions does not. After that the clients stop and what they still have in flight is awaited,
    /// uncounted: that drain runs with fewer and fewer rows, so counting it (the whole run, also reported) measures
    /// the test's length as much as the server: with 15 s cases and ~4 s latencies at 8 clients, ramp and drain were
    /// a third of the run.
    /// </summary>
    private static async Task<LoadResult> Load(HttpClient http, string body, int clients, double seconds)
    {
        var latencies = new List<double>();
        int count = 0, failed = 0, all = 0, ramped = 0;
        var clock = Stopwatch.StartNew();
        var rampEnd = TimeSpan.MaxValue;
        var sendUntil = TimeSpan.MaxValue;
        var lastCounted = TimeSpan.Zero;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            for (var sent = 0; ; sent++)
            {
                lock (latencies)
                    if (clock.Elapsed >= sendUntil) break;
                var started = clock.Elapsed;
                var ok = await Send(http, body);
                var ended = clock.Elapsed;
                lock (latencies)
                {
                    if (ok) all++; else failed++;
                    if (sent == 0 && ++ramped == clients)
                    {
                        rampEnd = ended;
                        sendUntil = ended + TimeSpan.FromSeconds(seconds);
                    }
                    else if (ok && ended > rampEnd && ended <= sendUntil)
                    {
                        count++;
                        latencies.Add((ended - started).TotalMilliseconds);
                        if (ended > lastCounted) lastCounted = ended;
                    }
                }
            }
        }));
        var steady = count > 0 ? (lastCounted - rampEnd).TotalSeconds : double.NaN;
        return new LoadResult(count, failed, latencies, steady, all, clock.Elapsed.TotalSeconds);
    }

    private static double Percentile(List<double> samples, int p)
    {
        if (samples.Count == 0) return double.NaN;
        var sorted = samples.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    // A 224×224 gradient: the processor's input size, so the benchmark measures the model, not resizing.
    private static byte[] Photo()
    {
        using var image = new Image<Rgb24>(224, 224);
        for (var y = 0; y < 224; y++)
            for (var x = 0; x < 224; x++)
                image[x, y] = new Rgb24((byte)x, (byte)y, (byte)(x ^ y));
        using var png = new MemoryStream();
        image.SaveAsPng(png);
        return png.ToArray();
    }
}
