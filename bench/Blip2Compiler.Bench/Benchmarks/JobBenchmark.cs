using System.Diagnostics;
using System.Formats.Tar;
using System.Text.Json;
using Blip2.Cli.Jobs;
using Blip2Compiler.Generation;
using TorchSharp;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// blip2 job's pipeline (issue 17): WebDataset shards of the bundled photo (100 a shard) read, decoded, resized,
/// captioned in batches of 8 (greedy, exactly 30 new tokens: min = max) and written as parts, in worker processes started as this
/// one (<c>job-child</c>), against the model alone on the same batches already preprocessed, in this process.
/// Reports end-to-end images/s for 1 and 2 workers (each with threads/workers torch threads and one decoding thread),
/// the ratio end-to-end / model-only time (target ≤ 1.15: preprocessing hidden), and each worker's resident memory
/// after its first part, at its peak and at the end (target: flat). <c>--iterations N</c> is the number of images.
/// </summary>
public sealed class JobBenchmark : IBenchmark
{
    public const string ChildCommand = "job-child";
    private const int ShardImages = 100, BatchSize = 8;

    public string Name => "job";
    public string Description => "blip2 job end to end (tar shards -> parts) vs the model alone, 1 and 2 worker processes; --iterations = images";

    private sealed record ChildResult(int Images, double Seconds, long FirstPartRss, long PeakRss, long EndRss);

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        OpenMpWaitPolicy.ApplyPassiveDefault();   // as blip2 serve / blip2 job do (takes effect only before libtorch loads)
        MallocReuse.Apply();   // as blip2 serve / blip2 job do
        if (BenchModels.IsRetrieval(options.Config)) { Console.Error.WriteLine($"{Name}: {options.Config} does not caption; skipped"); return; }
        var images = options.Iterations;
        var root = Path.Combine(Path.GetTempPath(), "blip2-bench-job-" + Environment.ProcessId);
        var shards = Path.Combine(root, "shards");
        Directory.CreateDirectory(shards);
        try
        {
            var photo = File.ReadAllBytes(FindPhoto());
            for (int s = 0, done = 0; done < images; s++, done += ShardImages)
            {
                using var file = File.Create(Path.Combine(shards, $"{s:D5}.tar"));
                using var tar = new TarWriter(file, TarEntryFormat.Ustar);
                for (int i = 0; i < Math.Min(ShardImages, images - done); i++)
                    tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, $"{s:D5}{i:D4}.png") { DataStream = new MemoryStream(photo) });
            }

            // The model alone: the same number of batches of 8, preprocessed once, in this process.
            var model = BenchModels.Get(options.Config, options);
            var captioner = BenchCaptioner.For(model);
            var generation = Generation(model);
            torch.set_num_threads(options.Threads);
            using var one = captioner.Images.Preprocess([BenchCaptioner.Photo]);
            using var batch = one.expand(BatchSize, -1, -1, -1).contiguous();
            captioner.Caption(batch, null, generation);   // warm
            var clock = Stopwatch.StartNew();
            for (int done = 0; done < images; done += BatchSize)
            {
                var n = Math.Min(BatchSize, images - done);
                using var slice = n == BatchSize ? batch.alias() : batch.narrow(0, 0, n);
                captioner.Caption(slice, null, generation);
            }
            var modelSeconds = clock.Elapsed.TotalSeconds;
            report.Metric(Name, options.Config, options, BatchSize, "model-only", images / modelSeconds, "images/s", ("images", images), ("seconds", modelSeconds));

            foreach (var workers in new[] { 1, 2 })
            {
                var parts = Path.Combine(root, $"parts-{workers}");
                var threads = Math.Max(1, options.Threads / workers);
                var wall = Stopwatch.StartNew();
                var results = Enumerable.Range(0, workers).Select(w => Task.Run(() => Child(shards, parts, options, w, workers, threads))).ToArray();
                Task.WaitAll(results);
                var seconds = wall.Elapsed.TotalSeconds;
                var all = results.Select(r => r.Result).ToList();
                // Pipeline time only (each worker's own clock starts after its model is loaded): the slowest worker's.
                var pipeline = all.Max(r => r.Seconds);
                report.Metric(Name, options.Config, options, BatchSize, $"end-to-end-{workers}-worker{(workers == 1 ? "" : "s")}", images / pipeline, "images/s",
                    ("images", all.Sum(r => r.Images)), ("seconds", pipeline), ("wall_seconds_with_load", seconds), ("threads_per_worker", threads),
                    ("vs_model_only", pipeline / modelSeconds),
                    ("rss_first_part_mb", all.Max(r => r.FirstPartRss) / 1e6), ("rss_peak_mb", all.Max(r => r.PeakRss) / 1e6), ("rss_end_mb", all.Max(r => r.EndRss) / 1e6));
            }
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Exactly 30 new tokens a caption (min = max new tokens), whatever the random weights pick.</summary>
    private static GenerationOptions Generation(Models.Blip2ModelBase model) =>
        new() { MaxNewTokens = BenchInputs.CaptionTokens, MinNewTokens = BenchInputs.CaptionTokens };

    private static ChildResult Child(string shards, string parts, BenchmarkOptions options, int shard, int workers, int threads)
    {
        var start = ChildProcess.StartInfo(ChildCommand, shards, parts, options.Config, options.Device, options.DTypeName, threads.ToString(), shard.ToString(), workers.ToString());
        using var child = Process.Start(start)!;
        var line = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"job-child {shard}/{workers} exited {child.ExitCode}");
        return JsonSerializer.Deserialize<ChildResult>(line.Trim().Split('\n')[^1])!;
    }

    /// <summary>One worker: the model (random weights, as the parent's), then the job pipeline over its shards.</summary>
    public static int RunChild(string[] args)
    {
        OpenMpWaitPolicy.ApplyPassiveDefault();   // as blip2 serve / blip2 job do (takes effect only before libtorch loads)
        MallocReuse.Apply();   // as blip2 serve / blip2 job do
        var (shards, parts, config, device, dtype, threads, shard, workers) = (args[0], args[1], args[2], args[3], args[4], int.Parse(args[5]), int.Parse(args[6]), int.Parse(args[7]));
        var options = BenchmarkOptions.Parse(["--config", config, "--device", device, "--dtype", dtype, "--threads", threads.ToString()]);
        var model = BenchModels.Get(config, options);
        torch.set_num_threads(threads);
        var captioner = BenchCaptioner.For(model);
        var task = new CaptionTask(captioner, config, null, Generation(model));
        var spec = new ShardSpec(shard, workers);
        var units = Directory.GetFiles(shards, "*.tar").Order(StringComparer.Ordinal).Select(f => new TarShardUnit(f)).ToList();
        var mine = units.Select((u, i) => (u, i)).Where(x => spec.Owns(x.i)).Select(x => new PlannedPart(x.i, x.u, JobFolder.PartFile(x.i, x.u))).ToList();
        var folder = new JobFolder(parts);
        long firstPart = 0;
        int count = 0;
        var pipeline = new JobPipeline(task, decodeThreads: 1, BatchSize, queue: 4 * BatchSize)
        {
            PartWritten = (_, records, _) => { count += records; if (firstPart == 0) firstPart = ProcessMemory.Current(); },
        };
        var clock = Stopwatch.StartNew();
        var failed = pipeline.Run(mine, folder, CancellationToken.None);
        var seconds = clock.Elapsed.TotalSeconds;
        if (failed.Count > 0) throw failed[0];
        Console.WriteLine(JsonSerializer.Serialize(new ChildResult(count, seconds, firstPart, ProcessMemory.Peak(), ProcessMemory.Current())));
        return 0;
    }

    private static string FindPhoto()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "samples", "assets", "astronaut.png");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("samples/assets/astronaut.png");
    }
}
