using System.CommandLine;
using System.Diagnostics;
using Blip2.Cli.Jobs;
using Blip2.Cli.Output;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 job caption|embed &lt;inputs&gt;... --output-dir DIR [--shard I/N]</c>: one worker of a dataset-scale job.
/// Inputs are images, folders, WebDataset tar shards, Parquet tables and <c>--files-from</c> lists; the worker takes
/// its share of the input units (<see cref="ShardSpec"/>), writes one part per unit into the shared folder (each
/// whole or not at all) and skips the parts an earlier run of the same command wrote, so a killed worker that is
/// started again finishes its share without duplicates or holes. <c>blip2 merge DIR</c> makes one table of the parts;
/// with <c>--output table.parquet|table.jsonl</c> the worker that finds the whole job written when its share is done
/// writes that table itself (as merge does), so one worker, or the last of N, leaves the finished table.
/// An input that fails is an error record, not an abort: the worker exits 0 when its share is written, 1 when a unit
/// could not be read at all (then its orchestrator retries it), 2 for a mistake on the command line.
/// </summary>
internal static class JobCommand
{
    private sealed class JobOptions
    {
        public readonly Argument<string[]> Inputs = new("inputs") { Description = "Image files, folders, WebDataset .tar shards, .parquet tables.", Arity = ArgumentArity.ZeroOrMore };
        public readonly Option<string?> FilesFrom = new("--files-from") { Description = "A file listing inputs, one a line (- for stdin).", HelpName = "FILE" };
        public readonly Option<string?> OutputDir = new("--output-dir") { Description = "The folder of parts and manifests, shared by all workers (created if missing); default with --output FILE: FILE.parts.", HelpName = "DIR" };
        public readonly Option<string?> Shard = new("--shard") { Description = "This worker's share: I/N, worker I (from 0) of N. Default: JOB_COMPLETION_INDEX with --shards (Kubernetes), SLURM_ARRAY_TASK_ID/COUNT (Slurm), else all.", HelpName = "I/N" };
        public readonly Option<int?> Shards = OptionValues.WholeNumber("--shards", "Number of workers, with JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's completions).");
        public readonly Option<int?> BatchSize = OptionValues.WholeNumber("--batch-size", "Images per forward pass (default 8).");
        public readonly Option<int?> PartSize = OptionValues.WholeNumber("--part-size", $"Loose image files per part (default {JobInputs.DefaultPartSize}); tar shards and Parquet row groups are a part each.");
        public readonly Option<int?> DecodeThreads = OptionValues.WholeNumber("--decode-threads", "Threads decoding and resizing images beside the model (default: half the cores, at least 1).");
        public readonly Option<string?> ImageColumn = new("--image-column") { Description = "The Parquet column holding images: bytes, a {bytes, path} struct, or paths (default: image, jpg, png, ... or path).", HelpName = "NAME" };

        public void AddTo(Command command)
        {
            command.Arguments.Add(Inputs);
            foreach (var option in new Option[] { FilesFrom, OutputDir, Shard, Shards, BatchSize, PartSize, DecodeThreads, ImageColumn }) command.Options.Add(option);
        }
    }

    public static Command Create(CommonOptions common, CliContext context)
    {
        var job = new Command("job", "Run one worker of a sharded, resumable caption or embed job over a dataset (see blip2 merge).");
        job.Subcommands.Add(Caption(common, context));
        job.Subcommands.Add(Embed(common, context));
        return job;
    }

    private static Command Caption(CommonOptions common, CliContext context)
    {
        var options = new JobOptions();
        var prompt = new Option<string?>("--prompt") { Description = "Text the caption continues, e.g. \"a photo of\"." };
        var generation = new GenerationOptionSet();
        var command = new Command("caption", "Caption a dataset's images into parts of --output-dir.") { prompt };
        options.AddTo(command);
        generation.AddTo(command);
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context, openOutput: false);   // --output is the table, written at the end
            var decoding = generation.Read(parse);
            var text = parse.GetValue(prompt);
            return Run(settings, context, parse, options, ModelKind.Generation, session =>
            {
                var captioner = Blip2Captioner.FromCheckpoint(session.Model, session.Directory);
                foreach (var note in captioner.DefaultsNotes) settings.Note(note);
                return new CaptionTask(captioner, ModelId(settings, session), text, decoding);
            }, $"prompt={text ?? ""}; {decoding}", common.OutputPath(parse), cancel);
        }, cancel));
        return command;
    }

    private static Command Embed(CommonOptions common, CliContext context)
    {
        var options = new JobOptions();
        var command = new Command("embed", "Embed a dataset's images (normalized vectors) into parts of --output-dir.");
        options.AddTo(command);
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context, openOutput: false);
            return Run(settings, context, parse, options, ModelKind.Retrieval, session =>
                new EmbedTask(Blip2Retriever.FromCheckpoint((ImageTextRetrieval)session.Model, session.Directory), ModelId(settings, session)), "", common.OutputPath(parse), cancel);
        }, cancel));
        return command;
    }

    /// <summary>The model records name: the --model given (a folder's name, or a Hugging Face id), else the bundled checkpoint's.</summary>
    private static string ModelId(RunSettings settings, ModelSession session) =>
        settings.Model is { } given ? (Directory.Exists(given) ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(given))) : given) : Path.GetFileName(session.Directory);

    private static int Run(RunSettings settings, CliContext context, ParseResult parse, JobOptions options, ModelKind kind,
        Func<ModelSession, JobTask> createTask, string taskSettings, string? table, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        // Batches of images decode together: see OpenMpWaitPolicy (before the model loads).
        Blip2Compiler.OpenMpWaitPolicy.ApplyPassiveDefault();
        Blip2Compiler.MallocReuse.Apply();   // intermediates reuse freed memory instead of faulting it in again (Devices/MallocReuse.cs)
        int batchSize = parse.GetValue(options.BatchSize) ?? 8, partSize = parse.GetValue(options.PartSize) ?? JobInputs.DefaultPartSize;
        int decodeThreads = parse.GetValue(options.DecodeThreads) ?? Math.Max(1, Environment.ProcessorCount / 2);
        if (batchSize < 1) throw new UsageException($"--batch-size must be at least 1 (got {batchSize})");
        if (partSize < 1) throw new UsageException($"--part-size must be at least 1 (got {partSize})");
        if (decodeThreads < 1) throw new UsageException($"--decode-threads must be at least 1 (got {decodeThreads})");
        if (table is not null) JobMerge.TableFormat(table);   // a wrong extension is a usage error before any work
        var outputDir = parse.GetValue(options.OutputDir) ?? (table is null
            ? throw new UsageException("give --output-dir DIR, the folder of the job's parts (or --output FILE: the table, its parts in FILE.parts)")
            : table + ".parts");
        var shard = ShardSpec.Resolve(parse.GetValue(options.Shard), parse.GetValue(options.Shards), settings.Environment);

        var arguments = (parse.GetValue(options.Inputs) ?? []).ToList();
        if (parse.GetValue(options.FilesFrom) is { } list) arguments.AddRange(JobInputs.ReadList(list, context.Input));
        if (arguments.Count == 0) throw new UsageException("no inputs: give images, folders, .tar shards or .parquet tables, or --files-from LIST");
        var inputs = JobInputs.ExpandAsync(arguments, parse.GetValue(options.ImageColumn), partSize, cancel).GetAwaiter().GetResult();
        if (inputs.SkippedFiles > 0) settings.Note($"skipped {inputs.SkippedFiles} file{(inputs.SkippedFiles == 1 ? "" : "s")} in folders that are neither images, .tar shards nor .parquet tables");

        var folder = new JobFolder(outputDir);
        using var session = ModelSession.Open(settings, kind, "job " + (kind == ModelKind.Generation ? "caption" : "embed"));
        var task = createTask(session);
        var identity = new JobIdentity(task.Name, $"{task.Model} ({session.Compiled.Name})",
            $"{taskSettings}; dtype={settings.DType}; quantize={settings.Quantize ?? "none"}", inputs.Fingerprint, inputs.Units.Count, shard.Count);
        folder.CheckSameJob(identity);

        // This worker's parts, in the job's order; the ones a part file already exists for are finished.
        var mine = inputs.Units.Select((unit, ordinal) => (unit, ordinal)).Where(u => shard.Owns(u.ordinal))
            .Select(u => new PlannedPart(u.ordinal, u.unit, JobFolder.PartFile(u.ordinal, u.unit))).ToList();
        PartEntry Entry(PlannedPart p)
        {
            if (!folder.IsWritten(p.File)) return new PartEntry(p.Ordinal, p.Unit.Id, p.File, false, 0, 0);
            var (records, failed) = folder.Count(p.File);
            return new PartEntry(p.Ordinal, p.Unit.Id, p.File, true, records, failed);
        }
        var entries = mine.ToDictionary(p => p.Ordinal, Entry);
        var todo = mine.Where(p => !entries[p.Ordinal].Done).ToList();
        foreach (var part in todo)
            if (folder.DeleteUnfinished(part.File) > 0) settings.Note($"{part.File}: an earlier run left it unfinished; writing it again");
        void WriteManifest() => folder.WriteManifest(new JobManifest(JobManifest.CurrentFormat, identity, shard.Index, [.. entries.Values.OrderBy(e => e.Ordinal)]));
        WriteManifest();
        settings.Note($"worker {shard}: {mine.Count} of {inputs.Units.Count} parts, {mine.Count - todo.Count} already written");

        int images = 0, failures = 0;
        var pipeline = new JobPipeline(task, decodeThreads, batchSize, queue: Math.Max(2 * batchSize, 4 * decodeThreads))
        {
            PartWritten = (part, records, failed) =>
            {
                entries[part.Ordinal] = new PartEntry(part.Ordinal, part.Unit.Id, part.File, true, records, failed);
                WriteManifest();
                (images, failures) = (images + records - failed, failures + failed);
                settings.Note($"{part.File}: {records} records{(failed > 0 ? $", {failed} failed" : "")}");
            },
        };
        var unreadable = pipeline.Run(todo, folder, cancel);
        if (table is not null && unreadable.Count == 0) WriteTableIfFinished(settings, folder, table, cancel);
        settings.Summary(RunSummary.Since(clock, images, failures));
        foreach (var failure in unreadable) Cli.Fail(settings.Error, failure.Message, ExitCodes.Failure);
        return unreadable.Count > 0 ? ExitCodes.Failure : ExitCodes.Success;
    }

    /// <summary>
    /// --output: once every worker's parts are written (this one's share last, or alone), the job's table, as
    /// <c>blip2 merge DIR --output FILE</c> writes it. Each worker checks after its own last part, so of workers that
    /// finish together the later check sees every part and at least one writes the table; a worker whose share is
    /// done before the others' only says so.
    /// </summary>
    private static void WriteTableIfFinished(RunSettings settings, JobFolder folder, string table, CancellationToken cancel)
    {
        try
        {
            var count = JobMerge.WriteTableAsync(folder.Path, table, cancel).GetAwaiter().GetResult();
            settings.Note($"wrote {table}: {count} records, the whole job");
        }
        catch (IncompleteJobException e)
        {
            settings.Note($"this worker's share is written; {table} is written by the worker that finishes the job (or by blip2 merge {folder.Path} --output {table}): {e.Message}");
        }
    }
}
