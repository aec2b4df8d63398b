using System.Diagnostics;
using System.Text.Json;
using Blip2Compiler.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Checkpoint loading against reading the file: <c>--config</c>'s published key layout written as a float32 checkpoint
/// (<see cref="SyntheticCheckpoint"/>, under <c>--dir</c>), once as one <c>model.safetensors</c> and once sharded
/// (at most 5 GB per shard, as <c>save_pretrained</c> did, and at least 3 shards), then per dtype (float32, bfloat16,
/// float16) and iteration: <c>cat</c> of the same files to /dev/null (the floor, page cache warm), timed right
/// before the model's <c>Load</c> on <c>--device</c>, which runs in a fresh process of this program so that process's
/// peak resident memory (VmHWM) is that load's, as <c>/usr/bin/time -v</c> would report it for an application that
/// loads the model. Each load runs with and without transparent huge pages for the parameters (the loader's
/// <c>HugePages</c>; an A/B in the same run). Targets on the CPU: load ≤ 3× cat; peak RSS ≤ 1.15× the loaded
/// parameter bytes + 1 GB. The checkpoint is deleted at the end.
/// </summary>
public sealed class LoadBenchmark : IBenchmark
{
    public const string ChildCommand = "load-child";
    private const long MaxShardBytes = 5_000_000_000;

    public string Name => "load";
    public string Description => "Load time vs cat of the same files, and peak RSS, per dtype (writes a float32 checkpoint under --dir)";

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        var config = BenchModels.Config(options.Config);
        var configJson = Path.Combine(AppContext.BaseDirectory, "Configs", options.Config, "config.json");
        var fileBytes = SyntheticCheckpoint.Bytes(config.KeyMap);
        var shardBytes = Math.Min(MaxShardBytes, fileBytes / 3 + 1);
        foreach (var (layout, maxShard) in new[] { ("single", (long?)null), ("sharded", shardBytes) })
        {
            var directory = Path.Combine(options.Directory, $"blip2-load-{options.Config}-{layout}-{Environment.ProcessId}");
            try
            {
                var write = Stopwatch.StartNew();
                SyntheticCheckpoint.Write(directory, config.KeyMap, configJson, maxShard);
                var files = SyntheticCheckpoint.DataFiles(directory);
                Console.Error.WriteLine($"{Name}: wrote {fileBytes / 1e9:F2} GB in {files.Count} file(s) in {write.Elapsed.TotalSeconds:F1} s ({directory})");
                Cat(files);   // warms the page cache
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 })
                    Measure(options, report, config, directory, files, layout, dtype, fileBytes);
            }
            finally
            {
                if (System.IO.Directory.Exists(directory)) System.IO.Directory.Delete(directory, recursive: true);
            }
        }
    }

    private void Measure(BenchmarkOptions options, JsonReport report, BenchConfig config, string directory, List<string> files,
        string layout, ScalarType dtype, long fileBytes)
    {
        var dtypeOptions = options with { DType = dtype };
        var parameterBytes = config.KeyMap.Entries.Sum(e =>
            e.Shape.Aggregate(1L, (n, d) => n * d) * (e.KeepFloat32 || dtype == ScalarType.Float32 ? 4 : 2));
        var budget = 1.15 * parameterBytes + 1e9;
        var runs = new Dictionary<bool, List<(double Cat, ChildResult Load)>> { [true] = [], [false] = [] };
        for (var i = 0; i < options.Warmup + options.Iterations; i++)
        {
            // Alternated, each right after its own cat, so machine noise falls on both.
            foreach (var hugePages in new[] { true, false })
            {
                var cat = Cat(files);
                var load = Child(directory, dtypeOptions, hugePages);
                if (i >= options.Warmup) runs[hugePages].Add((cat, load));
            }
        }
        foreach (var (hugePages, samples) in runs)
        {
            var catMs = Median(samples.Select(s => s.Cat));
            var loadMs = Median(samples.Select(s => s.Load.LoadMs));
            var peak = samples.Max(s => s.Load.PeakRss);
            void Line(string metric, double value, string unit, params (string, object?)[] extra) =>
                report.Metric(Name, options.Config, dtypeOptions, 1, metric, value, unit,
                    [("layout", layout), ("files", files.Count), ("huge_pages", hugePages), .. extra]);
            Line("load", loadMs, "ms", ("best", samples.Min(s => s.Load.LoadMs)), ("cat_ms", catMs), ("file_gb", fileBytes / 1e9),
                ("read_gb_per_s", fileBytes / 1e6 / loadMs));
            Line("load_over_cat", loadMs / catMs, "x", ("target", 3.0));
            Line("peak_rss", peak / 1e9, "GB", ("parameter_gb", parameterBytes / 1e9),
                ("baseline_rss_gb", samples.Max(s => s.Load.BaselineRss) / 1e9), ("budget_gb", budget / 1e9),
                ("over_parameters", peak / (double)parameterBytes), ("within_budget", peak <= budget));
        }
    }

    private sealed record ChildResult(double LoadMs, long PeakRss, long BaselineRss);

    /// <summary>Loads the checkpoint in a fresh process of this program and reads back its timing and memory.</summary>
    private static ChildResult Child(string directory, BenchmarkOptions options, bool hugePages)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(typeof(LoadBenchmark).Assembly.Location);
        foreach (var arg in new[] { ChildCommand, directory, options.Config, options.Device, options.DTypeName, options.Threads.ToString() })
            start.ArgumentList.Add(arg);
        start.Environment["BLIP2_LOAD_HUGE_PAGES"] = hugePages ? "1" : "0";
        using var child = Process.Start(start)!;
        var output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"the load process failed with exit code {child.ExitCode}");
        return JsonSerializer.Deserialize<ChildResult>(output.Trim())!;
    }

    /// <summary>The child: <c>load-child DIR CONFIG DEVICE DTYPE THREADS</c>; prints one JSON object.</summary>
    public static int RunChild(string[] args)
    {
        var (directory, config, device, threads) = (args[0], BenchModels.Config(args[1]), args[2], int.Parse(args[4]));
        var dtype = BenchmarkOptions.Parse(["--dtype", args[3]]).DType;
        var options = new Blip2LoadOptions { Device = device, DType = dtype };
        TorchBackend.Initialize();
        torch.set_num_threads(threads);
        using (torch.zeros(1, device: torch.device(device))) { }
        var baseline = ProcessMemory.Current();
        var clock = Stopwatch.StartNew();
        using (config.Load(directory, options))
        {
            Bench.Measure.Synchronize(device);
            var loadMs = clock.Elapsed.TotalMilliseconds;
            Console.WriteLine(JsonSerializer.Serialize(new ChildResult(loadMs, ProcessMemory.Peak(), baseline)));
        }
        return 0;
    }

    /// <summary>Times <c>cat</c> of the files to /dev/null, in milliseconds.</summary>
    private static double Cat(List<string> files)
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var arg in new[] { "-c", "exec cat \"$@\" > /dev/null", "sh" }.Concat(files)) start.ArgumentList.Add(arg);
        var clock = Stopwatch.StartNew();
        using var cat = Process.Start(start)!;
        cat.WaitForExit();
        if (cat.ExitCode != 0) throw new InvalidOperationException($"cat failed with exit code {cat.ExitCode}");
        return clock.Elapsed.TotalMilliseconds;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
