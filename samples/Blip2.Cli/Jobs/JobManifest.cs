using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blip2.Cli.Jobs;

/// <summary>What a job is: the same in every worker's manifest, or the parts do not belong together.</summary>
/// <param name="Task">caption or embed.</param>
/// <param name="Model">The --model given (or the bundled checkpoint) and its compiled class.</param>
/// <param name="Settings">The options that change the records (prompt, generation options, dtype, quantization).</param>
/// <param name="Inputs">A hash of the input units' ids (<see cref="JobInputs.Fingerprint"/>).</param>
/// <param name="Units">How many units the job has, all shards together.</param>
/// <param name="Shards">How many workers share them.</param>
internal sealed record JobIdentity(string Task, string Model, string Settings, string Inputs, int Units, int Shards);

/// <summary>One part of a worker's share: its unit's place in the job (<paramref name="Ordinal"/>), its file, and once written, its counts.</summary>
internal sealed record PartEntry(int Ordinal, string Unit, string File, bool Done, int Records, int Failed);

/// <summary>
/// A worker's manifest (<c>manifest-&lt;I&gt;-of-&lt;N&gt;.json</c> in the output folder): the job, the worker's share and
/// which of its parts are written. Rewritten whole (temporary file, then rename) after each part, so a reader never
/// sees half of one. The part files are the truth (a part exists whole or not at all); the manifest says what the
/// worker was to write, so that <c>blip2 merge</c> can tell a finished job from one with holes.
/// </summary>
internal sealed record JobManifest(string Format, JobIdentity Job, int Shard, IReadOnlyList<PartEntry> Parts)
{
    public const string CurrentFormat = "blip2-job/1";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string FileName(int shard, int shards) => $"manifest-{shard}-of-{shards}.json";

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>The manifest in a file, or null when it is not one (a foreign file named like one).</summary>
    public static JobManifest? Read(string path)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<JobManifest>(File.ReadAllText(path), Options);
            return manifest is { Format: CurrentFormat, Job: not null, Parts: not null } ? manifest : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
