using Blip2Compiler;

namespace Blip2.Cli.Jobs;

/// <summary>
/// An input unit the worker cannot read at all (a tar shard or Parquet table that is missing, truncated or not one):
/// the worker's own failure, not an input's. Its part is not written, the other parts go on, and the worker exits 1
/// at the end so that Kubernetes or Slurm retries it.
/// </summary>
internal sealed class InputShardException(string unit, string problem, Exception? inner = null)
    : Blip2Exception($"{unit}: {problem}", inner!)
{
    /// <summary>The tar shard or Parquet table (with its row group).</summary>
    public string Unit { get; } = unit;

    public string Problem { get; } = problem;
}
