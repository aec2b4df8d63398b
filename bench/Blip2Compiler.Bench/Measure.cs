using System.Diagnostics;

namespace Blip2Compiler.Bench;

/// <summary>Runs an operation repeatedly for a time budget, after a warm-up, and reports the rate.</summary>
public static class Measure
{
    /// <summary>
    /// Wall-clock and process CPU rates, and the fastest single call per item: on a shared machine the best call is
    /// the steadiest number to compare implementations by.
    /// </summary>
    public readonly record struct Rate(double ItemsPerSecond, double MillisecondsPerItem, double CpuMillisecondsPerItem, double BestMillisecondsPerItem, long Items);

    /// <summary>Calls <paramref name="operation"/> (which handles <paramref name="itemsPerCall"/> items) until the budget is spent.</summary>
    public static Rate Throughput(Action operation, int itemsPerCall, double seconds)
    {
        // Warm-up: pools, caches, coefficient tables.
        var warmup = Stopwatch.StartNew();
        do operation(); while (warmup.Elapsed.TotalSeconds < Math.Min(0.5, seconds / 4));

        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        long calls = 0;
        var best = double.MaxValue;
        var clock = Stopwatch.StartNew();
        do
        {
            var before = clock.Elapsed.TotalMilliseconds;
            operation();
            best = Math.Min(best, clock.Elapsed.TotalMilliseconds - before);
            calls++;
        } while (clock.Elapsed.TotalSeconds < seconds);
        var elapsed = clock.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds;
        var items = calls * itemsPerCall;
        return new Rate(items / elapsed, elapsed * 1000 / items, cpu / items, best / itemsPerCall, items);
    }

    /// <summary>Timed calls in milliseconds: median (the reported value) and best.</summary>
    public readonly record struct Latency(double MedianMs, double BestMs, IReadOnlyList<double> SamplesMs);

    /// <summary>
    /// Runs <paramref name="warmup"/> untimed calls, then <paramref name="iterations"/> timed ones. GPU work is
    /// synchronized before each clock read, so queued kernels are counted in the call that queued them.
    /// </summary>
    public static Latency Time(Action operation, int warmup, int iterations, string device)
    {
        for (var i = 0; i < warmup; i++) operation();
        Synchronize(device);
        var samples = new List<double>(iterations);
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            operation();
            Synchronize(device);
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        var sorted = samples.Order().ToList();
        var median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        return new Latency(median, sorted[0], samples);
    }

    public static void Synchronize(string device)
    {
        if (device.StartsWith("cuda", StringComparison.Ordinal)) TorchSharp.torch.cuda.synchronize();
    }
}
