using System.CommandLine;
using Blip2.Cli.Jobs;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 merge DIR [--output table.parquet|table.jsonl]</c>: a finished job's parts as one table, in the job's
/// order; JSON Lines on stdout without --output. Refuses a job with holes (<see cref="IncompleteJobException"/>).
/// The output file is written to a temporary name and renamed when whole.
/// </summary>
internal static class MergeCommand
{
    public static Command Create(CommonOptions common, CliContext context)
    {
        var folder = new Argument<string>("folder") { Description = "The --output-dir of a blip2 job." };
        var command = new Command("merge", "Merge a finished job's parts into one table (--output x.parquet or x.jsonl; JSON Lines on stdout by default).") { folder };
        command.SetAction((parse, cancel) => Task.Run(async () =>
        {
            using var settings = common.Read(parse, context, openOutput: false);
            var directory = parse.GetValue(folder)!;
            var (job, parts) = JobMerge.Plan(directory);
            var lines = JobMerge.Lines(directory, parts);
            int count;
            if (common.OutputPath(parse) is not { } output) count = JobMerge.WriteJsonLines(lines, settings.Out);
            else
            {
                if (Directory.Exists(output)) throw new UsageException($"--output '{output}' is a folder: give a file name (.parquet or .jsonl)");
                bool parquet = output.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);
                if (!parquet && !output.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) && !output.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                    throw new UsageException($"--output '{output}': the table's format comes from its extension, .parquet or .jsonl");
                var temp = output + "." + Environment.ProcessId + ".tmp";
                try
                {
                    await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
                    {
                        if (parquet) count = await JobMerge.WriteParquetAsync(lines, job.Task, stream, cancel).ConfigureAwait(false);
                        else
                        {
                            await using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true);
                            count = JobMerge.WriteJsonLines(lines, writer);
                        }
                        stream.Flush(flushToDisk: true);
                    }
                    File.Move(temp, output, overwrite: true);
                }
                finally
                {
                    if (File.Exists(temp)) File.Delete(temp);
                }
            }
            settings.Note($"merged {count} records from {parts.Count} parts of {job.Shards} worker{(job.Shards == 1 ? "" : "s")} ({job.Task}, {job.Model})");
            return ExitCodes.Success;
        }, cancel));
        return command;
    }
}
