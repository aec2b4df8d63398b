namespace Blip2.Cli.Jobs;

/// <summary>
/// Which share of a job's input units this worker takes: unit <c>u</c> (in the job's order) belongs to worker
/// <c>u mod Count</c>, so N workers given the same inputs take every unit exactly once. The units are whole tar
/// shards, Parquet row groups and fixed groups of loose files, the same whatever N is, so a run with one worker
/// writes the same parts as N workers together.
/// </summary>
internal readonly record struct ShardSpec(int Index, int Count)
{
    public static ShardSpec Whole => new(0, 1);

    public bool Owns(int unitOrdinal) => unitOrdinal % Count == Index;

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>
    /// <c>--shard I/N</c>; else Kubernetes' <c>JOB_COMPLETION_INDEX</c> (an Indexed Job) with <c>--shards N</c>;
    /// else Slurm's <c>SLURM_ARRAY_TASK_ID</c> and <c>SLURM_ARRAY_TASK_COUNT</c> (ids counted from
    /// <c>SLURM_ARRAY_TASK_MIN</c> in steps of <c>SLURM_ARRAY_TASK_STEP</c>, as <c>--array=1-8</c> or <c>0-15:2</c> give them);
    /// else the whole input.
    /// </summary>
    public static ShardSpec Resolve(string? shard, int? shards, Func<string, string?> environment)
    {
        if (shard is not null)
        {
            var parts = shard.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], out var index) || !int.TryParse(parts[1], out var count))
                throw new UsageException($"--shard takes I/N, e.g. 0/4 (the first of 4 workers); got '{shard}'");
            if (shards is { } given && given != count) throw new UsageException($"--shard {shard} and --shards {given} disagree: give one");
            return Checked(index, count, "--shard");
        }
        if (environment("JOB_COMPLETION_INDEX") is { } completion)
        {
            if (shards is not { } count)
                throw new UsageException("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not the number of workers: give --shards N (the Job's completions)");
            if (!int.TryParse(completion, out var index)) throw new UsageException($"JOB_COMPLETION_INDEX is not a number: '{completion}'");
            return Checked(index, count, "JOB_COMPLETION_INDEX");
        }
        if (environment("SLURM_ARRAY_TASK_ID") is { } task)
        {
            int Number(string name, string? value, int fallback) => value is null ? fallback
                : int.TryParse(value, out var n) ? n : throw new UsageException($"{name} is not a number: '{value}'");
            var id = Number("SLURM_ARRAY_TASK_ID", task, 0);
            var min = Number("SLURM_ARRAY_TASK_MIN", environment("SLURM_ARRAY_TASK_MIN"), 0);
            var step = Number("SLURM_ARRAY_TASK_STEP", environment("SLURM_ARRAY_TASK_STEP"), 1);
            var count = shards ?? Number("SLURM_ARRAY_TASK_COUNT", environment("SLURM_ARRAY_TASK_COUNT")
                ?? throw new UsageException("SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: give --shards N"), 0);
            if (step < 1 || (id - min) % step != 0) throw new UsageException($"SLURM_ARRAY_TASK_ID {id} is not on the array's steps (min {min}, step {step})");
            return Checked((id - min) / step, count, "SLURM_ARRAY_TASK_ID");
        }
        if (shards is { } alone && alone != 1)
            throw new UsageException($"--shards {alone} needs this worker's index: --shard I/{alone}, or JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm) set");
        return Whole;
    }

    private static ShardSpec Checked(int index, int count, string from)
    {
        if (count < 1) throw new UsageException($"the number of workers must be at least 1 (got {count})");
        if (index < 0 || index >= count) throw new UsageException($"{from} gives worker {index}, outside 0..{count - 1} for {count} workers");
        return new ShardSpec(index, count);
    }
}
