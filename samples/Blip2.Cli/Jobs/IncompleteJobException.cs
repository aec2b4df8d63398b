using Blip2Compiler;

namespace Blip2.Cli.Jobs;

/// <summary>
/// <c>blip2 merge</c> over a folder whose job has not finished: shards that never wrote a manifest, or parts not yet
/// written. Nothing is merged (a table with holes would pass for a whole one); rerun the workers named.
/// </summary>
internal sealed class IncompleteJobException(string folder, IReadOnlyList<int> missingShards, int shards, IReadOnlyList<string> unfinishedParts)
    : Blip2Exception($"the job in '{folder}' is not finished: "
        + string.Join("; ", new[]
        {
            missingShards.Count > 0 ? $"shard{(missingShards.Count == 1 ? "" : "s")} {string.Join(", ", missingShards.Take(10).Select(s => $"{s}/{shards}"))}{(missingShards.Count > 10 ? $" and {missingShards.Count - 10} more" : "")} wrote no manifest" : null,
            unfinishedParts.Count > 0 ? $"{unfinishedParts.Count} part{(unfinishedParts.Count == 1 ? " is" : "s are")} not written ({string.Join(", ", unfinishedParts.Take(5))}{(unfinishedParts.Count > 5 ? ", …" : "")})" : null,
        }.Where(s => s is not null))
        + "; rerun those workers, then merge")
{
    public string Folder { get; } = folder;
    public IReadOnlyList<int> MissingShards { get; } = missingShards;
    public int Shards { get; } = shards;
    public IReadOnlyList<string> UnfinishedParts { get; } = unfinishedParts;
}
