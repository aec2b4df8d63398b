using Blip2Compiler;

namespace Blip2.Cli.Jobs;

/// <summary>
/// The output folder holds parts of another job: a different task, model, option, input list or shard count. Its parts
/// would not fit with this run's, so nothing is written (exit code 2); use another folder or the first run's command.
/// </summary>
internal sealed class JobMismatchException(string folder, string setting, string before, string now)
    : Blip2Exception($"output folder '{folder}' holds parts of another job: its {setting} was {before}, this run's is {now}; rerun with the same command or use another folder")
{
    public string Folder { get; } = folder;

    /// <summary>What differs: task, model, settings, inputs or shards.</summary>
    public string Setting { get; } = setting;

    public string Before { get; } = before;
    public string Now { get; } = now;
}
