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
/// float16) and iteration: <c>cat</c> of the same files to /dev/null (the floor, page cache warm: read once untimed,
/// then timed), right before each of the model's <c>Load</c>s on <c>--device</c>, which runs in a fresh process of this program so that process's
/// peak resident memory (VmHWM) is that load's, as <c>/usr/bin/time -v</c> would report it for an application that
/// loads the model; each load three times, the default (<see cref="Blip2LoadOptions.ZeroCopy"/>: parameters already in their
/// dtype mapped from the file; what is read into new memory dropped from the page cache as it goes), with
/// <see cref="Blip2LoadOptions.KeepFileCache"/> on (<c>load_keep_cache</c>), and with zero copy off (<c>load_copy</c>: every
/// parameter read into new memory), so they are compared side by side. After a load that dropped the cache, the untimed
/// <c>cat</c> reads the file from disk again. A second floor, in a fresh process too: the same files read (positioned reads, as many threads as
/// the loader's) into newly allocated memory of the file's size — what any loader that ends with its parameters in new
/// memory pays for the page faults and the kernel's zeroing, which <c>cat</c>, reusing one small buffer, does not.
/// Besides wall time, the CPU time (user + system, all threads) of the load and of <c>cat</c> (through
/// <c>/usr/bin/time</c> where it exists): on a shared machine the CPU time is the steadier measure of the work done.
/// With <c>--quantize int8,int4</c>, the quantized loads too (float32 compute, the default load only), each against the
/// <c>cat</c> right before it. Targets on the CPU: load ≤ 3× cat; peak RSS ≤ 1.15× the loaded parameter bytes + 1 GB. The checkpoint is deleted
/// at the end.
/// </summary>
public sealed class LoadBenchmark : IBenchmark
{
    public const string ChildCommand = "load-child";
    public const string WriteCommand = "load-write";
    public const string TruncateCommand = "load-truncate";
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
                foreach (var dtype in options.DTypes ?? [ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16])
                    Measure(options, report, config, directory, files, layout, dtype, fileBytes);
                foreach (var quantization in options.Quantizations ?? [])
                    MeasureQuantized(options, report, directory, files, layout, quantization, fileBytes);
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
        // Every child starts on a warm page cache: the file is read once untimed (a load converting to bfloat16
        // holds 7.7 GB beside opt-2.7b's 15 GB file on this 24 GB machine, so the child before it evicted part of
        // the file), then once timed: that is the `cat` its load is set against.
        var modes = new[] { ChildMode.Load, ChildMode.LoadKeepCache, ChildMode.LoadCopy, ChildMode.Floor };
        var runs = modes.ToDictionary(m => m, _ => new List<ChildResult>());
        var cats = new List<CatResult>();
        for (var i = 0; i < options.Warmup + options.Iterations; i++)
            foreach (var mode in modes)
            {
                Cat(files);
                var cat = Cat(files);
                var child = Child(directory, dtypeOptions, mode);
                if (i < options.Warmup) continue;
                cats.Add(cat);
                runs[mode].Add(child);
            }
        var catMs = Median(cats.Select(c => c.WallMs));
        var catCpuMs = cats.All(c => c.CpuMs is not null) ? Median(cats.Select(c => c.CpuMs!.Value)) : (double?)null;
        var floorMs = Median(runs[ChildMode.Floor].Select(r => r.LoadMs));
        var floorCpuMs = Median(runs[ChildMode.Floor].Select(r => r.CpuMs));
        void Line(string metric, double value, string unit, params (string, object?)[] extra) =>
            report.Metric(Name, options.Config, dtypeOptions, 1, metric, value, unit, [("layout", layout), ("files", files.Count), .. extra]);
        Line("read_into_new_memory", floorMs, "ms", ("cpu_ms", floorCpuMs), ("peak_rss_gb", runs[ChildMode.Floor].Max(r => r.PeakRss) / 1e9));

        // "load": the default (zero copy: same-dtype parameters mapped; what was read into new memory dropped from the page
        // cache as it goes); "load_keep_cache": the same with the file's pages kept; "load_copy": every parameter read into new memory.
        foreach (var (prefix, mode) in new[] { ("load", ChildMode.Load), ("load_keep_cache", ChildMode.LoadKeepCache), ("load_copy", ChildMode.LoadCopy) })
        {
            var these = runs[mode];
            var loadMs = Median(these.Select(r => r.LoadMs));
            var loadCpuMs = Median(these.Select(r => r.CpuMs));
            var peak = these.Max(r => r.PeakRss);
            Line(prefix, loadMs, "ms", ("best", these.Min(r => r.LoadMs)), ("cat_ms", catMs), ("file_gb", fileBytes / 1e9),
                ("read_gb_per_s", fileBytes / 1e6 / loadMs), ("cpu_ms", loadCpuMs), ("cat_cpu_ms", catCpuMs));
            Line(prefix + "_over_cat", loadMs / catMs, "x", ("target", 3.0), ("cpu_ratio", catCpuMs is { } c ? loadCpuMs / c : null));
            Line(prefix + "_over_read_into_new_memory", loadMs / floorMs, "x", ("cpu_ratio", loadCpuMs / floorCpuMs));
            Line(prefix + "_peak_rss", peak / 1e9, "GB", ("parameter_gb", parameterBytes / 1e9),
                ("baseline_rss_gb", these.Max(r => r.BaselineRss) / 1e9), ("budget_gb", budget / 1e9),
                ("over_parameters", peak / (double)parameterBytes), ("within_budget", peak <= budget));
        }
        double MedianLoad(ChildMode mode) => Median(runs[mode].Select(r => r.LoadMs));
        Line("drop_file_cache_speedup", MedianLoad(ChildMode.LoadKeepCache) / MedianLoad(ChildMode.Load), "x",
            ("cpu_ratio", Median(runs[ChildMode.LoadKeepCache].Select(r => r.CpuMs)) / Median(runs[ChildMode.Load].Select(r => r.CpuMs))));
        Line("zero_copy_speedup", MedianLoad(ChildMode.LoadCopy) / MedianLoad(ChildMode.Load), "x",
            ("cpu_ratio", Median(runs[ChildMode.LoadCopy].Select(r => r.CpuMs)) / Median(runs[ChildMode.Load].Select(r => r.CpuMs))));
    }

    /// <summary>
    /// A quantized load (<c>--quantize</c>; float32 compute, as the CPU runs it: the linear weights quantized while they
    /// are read, the rest float32 and, as in any float32 load, mapped): its time against the <c>cat</c> right before it,
    /// and its peak RSS against the loaded parameters' bytes (quantized codes and scales, and the float rest).
    /// </summary>
    private void MeasureQuantized(BenchmarkOptions options, JsonReport report, string directory, List<string> files, string layout,
        Nn.Quantization.QuantizationMode quantization, long fileBytes)
    {
        var name = quantization == Nn.Quantization.QuantizationMode.Int8 ? "int8" : "int4";
        var float32 = options with { DType = ScalarType.Float32 };
        var runs = new List<ChildResult>();
        var cats = new List<CatResult>();
        for (var i = 0; i < options.Warmup + options.Iterations; i++)
        {
            Cat(files);
            var cat = Cat(files);
            var child = Child(directory, float32, ChildMode.Load, name);
            if (i < options.Warmup) continue;
            cats.Add(cat);
            runs.Add(child);
        }
        var catMs = Median(cats.Select(c => c.WallMs));
        var loadMs = Median(runs.Select(r => r.LoadMs));
        var parameterBytes = runs.Max(r => r.ParameterBytes);
        var budget = 1.15 * parameterBytes + 1e9;
        var peak = runs.Max(r => r.PeakRss);
        void Line(string metric, double value, string unit, params (string, object?)[] extra) =>
            report.Metric(Name, options.Config, float32, 1, metric, value, unit, [("layout", layout), ("files", files.Count), ("quantization", name), .. extra]);
        Line("load", loadMs, "ms", ("best", runs.Min(r => r.LoadMs)), ("cat_ms", catMs), ("file_gb", fileBytes / 1e9), ("cpu_ms", Median(runs.Select(r => r.CpuMs))));
        Line("load_over_cat", loadMs / catMs, "x");
        Line("load_peak_rss", peak / 1e9, "GB", ("parameter_gb", parameterBytes / 1e9), ("budget_gb", budget / 1e9),
            ("over_parameters", peak / (double)parameterBytes), ("within_budget", peak <= budget));
    }

    private enum ChildMode { Load, LoadKeepCache, LoadCopy, Floor }

    private sealed record ChildResult(double LoadMs, double CpuMs, long PeakRss, long BaselineRss, long ParameterBytes = 0);

    private sealed record CatResult(double WallMs, double? CpuMs);

    /// <summary>Loads the checkpoint in a fresh process of this program and reads back its timing and memory.</summary>
    private static ChildResult Child(string directory, BenchmarkOptions options, ChildMode mode, string quantization = "none")
    {
        var start = ChildProcess.StartInfo(ChildCommand, directory, options.Config, options.Device, options.DTypeName, options.Threads.ToString(),
            mode switch { ChildMode.Floor => "floor", ChildMode.LoadCopy => "load-copy", ChildMode.LoadKeepCache => "load-keep-cache", _ => "load" }, quantization);
        using var child = Process.Start(start)!;
        var output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"the load process failed with exit code {child.ExitCode}");
        return JsonSerializer.Deserialize<ChildResult>(output.Trim())!;
    }

    /// <summary>The child: <c>load-child DIR CONFIG DEVICE DTYPE THREADS load|load-keep-cache|load-copy|floor [none|int8|int4]</c>
    /// (load-copy: with <see cref="Blip2LoadOptions.ZeroCopy"/> off; load-keep-cache: with <see cref="Blip2LoadOptions.KeepFileCache"/>
    /// on; int8/int4: quantized while loading); prints one JSON object.</summary>
    public static int RunChild(string[] args)
    {
        var (directory, config, device, threads) = (args[0], BenchModels.Config(args[1]), args[2], int.Parse(args[4]));
        var dtype = BenchmarkOptions.Parse(["--dtype", args[3]]).DType;
        var quantization = args.Length > 6 ? args[6] : "none";
        var options = new Blip2LoadOptions
        {
            Device = device, DType = dtype, ZeroCopy = args[5] != "load-copy", KeepFileCache = args[5] == "load-keep-cache",
            Quantization = quantization switch { "int8" => Nn.Quantization.QuantizationMode.Int8, "int4" => Nn.Quantization.QuantizationMode.Int4, _ => Nn.Quantization.QuantizationMode.None },
        };
        TorchBackend.Initialize();
        torch.set_num_threads(threads);
        using (torch.zeros(1, device: torch.device(device))) { }
        var baseline = ProcessMemory.Current();
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        if (args[5] == "floor")
        {
            ReadIntoNewMemory(SyntheticCheckpoint.DataFiles(directory), threads);
            var floorMs = clock.Elapsed.TotalMilliseconds;
            process.Refresh();
            Console.WriteLine(JsonSerializer.Serialize(new ChildResult(floorMs, (process.TotalProcessorTime - cpu).TotalMilliseconds, ProcessMemory.Peak(), baseline)));
            return 0;
        }
        using (var model = config.Load(directory, options))
        {
            Bench.Measure.Synchronize(device);
            var loadMs = clock.Elapsed.TotalMilliseconds;
            process.Refresh();
            var cpuMs = (process.TotalProcessorTime - cpu).TotalMilliseconds;
            Console.WriteLine(JsonSerializer.Serialize(new ChildResult(loadMs, cpuMs, ProcessMemory.Peak(), baseline, model.ParameterBytes)));
        }
        return 0;
    }

    /// <summary><c>load-write DIR CONFIG [MAX_SHARD_BYTES]</c>: writes the benchmark's checkpoint and keeps it (for
    /// timing <c>load-child</c> by hand).</summary>
    public static int RunWrite(string[] args)
    {
        var config = BenchModels.Config(args[1]);
        var configJson = Path.Combine(AppContext.BaseDirectory, "Configs", args[1], "config.json");
        SyntheticCheckpoint.Write(args[0], config.KeyMap, configJson, args.Length > 2 ? long.Parse(args[2]) : null);
        return 0;
    }

    /// <summary>
    /// <c>load-truncate DIR CONFIG zero-copy|copy</c>: the zero-copy trade-off, measured. Loads DIR's parameters (CPU,
    /// float32) with <see cref="Checkpoints.CheckpointReadOptions.ZeroCopy"/> on or off, truncates every weights file to half its
    /// length <em>in place</em> (as <c>save_pretrained</c> or <c>cp</c> over the file would), then reads every
    /// parameter. Zero copy: the process dies of SIGBUS (exit 135) at the first page past the new end; copy: it
    /// prints the parameters' sum. Destroys DIR's checkpoint: run it on one written by <c>load-write</c>.
    /// </summary>
    public static int RunTruncate(string[] args)
    {
        var (directory, config, zeroCopy) = (args[0], BenchModels.Config(args[1]), args[2] == "zero-copy");
        TorchBackend.Initialize();
        using var checkpoint = Checkpoints.Checkpoint.Open(directory);
        using var loaded = Checkpoints.CheckpointLoader.Load(checkpoint, config.KeyMap, new Checkpoints.CheckpointReadOptions { ZeroCopy = zeroCopy });
        foreach (var file in SyntheticCheckpoint.DataFiles(directory))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            stream.SetLength(stream.Length / 2);
        }
        Console.Error.WriteLine($"{TruncateCommand}: {loaded.Count} parameters loaded ({(zeroCopy ? "zero copy" : "copied")}), files truncated to half; reading every parameter");
        double sum = 0;
        foreach (var tensor in loaded.Values)
        {
            using var s = tensor.to(ScalarType.Float64).sum();
            sum += s.item<double>();
        }
        Console.WriteLine($"{TruncateCommand}: survived, parameter sum {sum}");
        return 0;
    }

    /// <summary>Reads every file whole into new native memory, the files' bytes split between
    /// <paramref name="threads"/> threads in 64 MiB reads, and frees it.</summary>
    private static unsafe void ReadIntoNewMemory(List<string> files, int threads)
    {
        const int step = 64 << 20;
        foreach (var path in files)
        {
            using var handle = File.OpenHandle(path);
            var length = RandomAccess.GetLength(handle);
            var memory = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)length);
            try
            {
                Parallel.For(0, (int)((length + step - 1) / step), new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                {
                    var offset = (long)i * step;
                    var span = new Span<byte>(memory + offset, (int)Math.Min(step, length - offset));
                    while (!span.IsEmpty)
                    {
                        var read = RandomAccess.Read(handle, span, offset);
                        if (read == 0) throw new EndOfStreamException(path);
                        span = span[read..];
                        offset += read;
                    }
                });
            }
            finally
            {
                System.Runtime.InteropServices.NativeMemory.Free(memory);
            }
        }
    }

    /// <summary>Times <c>cat</c> of the files to /dev/null: wall milliseconds, and its CPU time where /usr/bin/time
    /// can report it.</summary>
    private static CatResult Cat(List<string> files)
    {
        const string time = "/usr/bin/time";
        var withTime = File.Exists(time);
        var start = new ProcessStartInfo(withTime ? time : "/bin/sh") { UseShellExecute = false, RedirectStandardError = withTime };
        var args = withTime ? new[] { "-f", "%U %S", "/bin/sh" } : [];
        foreach (var arg in args.Concat(["-c", "exec cat \"$@\" > /dev/null", "sh"]).Concat(files)) start.ArgumentList.Add(arg);
        var clock = Stopwatch.StartNew();
        using var cat = Process.Start(start)!;
        var stderr = withTime ? cat.StandardError.ReadToEnd() : "";
        cat.WaitForExit();
        var wallMs = clock.Elapsed.TotalMilliseconds;
        if (cat.ExitCode != 0) throw new InvalidOperationException($"cat failed with exit code {cat.ExitCode}: {stderr}");
        var cpu = stderr.Trim().Split('\n')[^1].Split(' ');
        double? cpuMs = withTime && cpu.Length == 2
            && double.TryParse(cpu[0], System.Globalization.CultureInfo.InvariantCulture, out var user)
            && double.TryParse(cpu[1], System.Globalization.CultureInfo.InvariantCulture, out var system)
            ? (user + system) * 1000 : null;
        return new CatResult(wallMs, cpuMs);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
