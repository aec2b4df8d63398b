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
            var count = common.OutputPath(parse) is { } output
                ? await JobMerge.WriteTableAsync(directory, output, cancel).ConfigureAwait(false)
                : JobMerge.WriteJsonLines(JobMerge.Lines(directory, parts), settings.Out);
            settings.Note($"merged {count} records from {parts.Count} parts of {job.Shards} worker{(job.Shards == 1 ? "" : "s")} ({job.Task}, {job.Model})");
            return ExitCodes.Success;
        }, cancel));
        return command;
    }
}
