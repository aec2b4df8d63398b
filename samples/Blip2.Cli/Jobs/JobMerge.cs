using Parquet;
using Parquet.Serialization;

namespace Blip2.Cli.Jobs;

/// <summary>
/// <c>blip2 merge</c>: the parts of a finished job as one table, in the job's order (units by ordinal, records in
/// their part's order), so N workers' parts merge to what one worker writes. Streams part by part: memory holds one
/// Parquet row group, never the table.
/// </summary>
internal static class JobMerge
{
    /// <summary>Records per Parquet row group.</summary>
    private const int RowGroupSize = 10_000;

    /// <summary>The job's parts in order, after checking the job is finished (<see cref="IncompleteJobException"/>) and one (<see cref="JobMismatchException"/>).</summary>
    public static (JobIdentity Job, IReadOnlyList<PartEntry> Parts) Plan(string folder)
    {
        if (!Directory.Exists(folder)) throw new InputNotFoundException([folder], "the job's --output-dir");
        var manifests = Directory.EnumerateFiles(folder, "manifest-*.json").Order(StringComparer.Ordinal)
            .Select(JobManifest.Read).OfType<JobManifest>().ToList();
        if (manifests.Count == 0) throw new Blip2Compiler.Blip2Exception($"'{folder}' holds no job manifest (manifest-I-of-N.json): give the --output-dir of blip2 job");
        var job = manifests[0].Job;
        foreach (var other in manifests.Skip(1))
            if (other.Job != job)
                throw new JobMismatchException(folder, "job", $"{job.Task} over {job.Units} units in {job.Shards} shards", $"{other.Job.Task} over {other.Job.Units} units in {other.Job.Shards} shards (manifest-{other.Shard}-of-{other.Job.Shards}.json)");
        var missing = Enumerable.Range(0, job.Shards).Except(manifests.Select(m => m.Shard)).ToList();
        var parts = manifests.SelectMany(m => m.Parts).GroupBy(p => p.Ordinal).Select(g => g.First()).OrderBy(p => p.Ordinal).ToList();
        var unfinished = parts.Where(p => !File.Exists(Path.Combine(folder, p.File))).Select(p => p.File).ToList();
        if (missing.Count > 0 || unfinished.Count > 0) throw new IncompleteJobException(folder, missing, job.Shards, unfinished);
        if (parts.Count != job.Units || parts.Select(p => p.Ordinal).Where((o, i) => o != i).Any())
            throw new IncompleteJobException(folder, [], job.Shards, [$"the manifests list {parts.Count} of the job's {job.Units} parts"]);
        return (job, parts);
    }

    /// <summary>
    /// Writes a finished job's records to <paramref name="output"/>, a Parquet table (<c>.parquet</c>) or JSON Lines
    /// (<c>.jsonl</c>, <c>.json</c>), by its extension: to a temporary file beside it, renamed over it when whole, so a
    /// reader (or a worker that dies while writing it) never leaves half a table. Two workers that finish together and
    /// both write it write the same bytes. Returns the record count.
    /// </summary>
    public static async Task<int> WriteTableAsync(string folder, string output, CancellationToken cancel)
    {
        var format = TableFormat(output);
        var (job, parts) = Plan(folder);
        var lines = Lines(folder, parts);
        var temp = output + "." + Environment.ProcessId + ".tmp";
        try
        {
            int count;
            await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                if (format == ParquetExtension) count = await WriteParquetAsync(lines, job.Task, stream, cancel).ConfigureAwait(false);
                else
                {
                    await using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true);
                    count = WriteJsonLines(lines, writer);
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, output, overwrite: true);
            return count;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Blip2Compiler.Blip2Exception($"the table '{output}' could not be written: {e.Message}");
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private const string ParquetExtension = ".parquet";

    /// <summary>The table format <paramref name="output"/> names by its extension; a usage error for a folder or another extension.</summary>
    public static string TableFormat(string output)
    {
        if (Directory.Exists(output)) throw new UsageException($"--output '{output}' is a folder: give a file name (.parquet or .jsonl)");
        var extension = Path.GetExtension(output).ToLowerInvariant();
        return extension is ParquetExtension or ".jsonl" or ".json" ? extension
            : throw new UsageException($"--output '{output}': the table's format comes from its extension, .parquet or .jsonl");
    }

    public static IEnumerable<string> Lines(string folder, IReadOnlyList<PartEntry> parts) =>
        parts.SelectMany(p => File.ReadLines(Path.Combine(folder, p.File)).Where(l => l.Length > 0));

    /// <summary>The records as JSON Lines, copied as the parts hold them.</summary>
    public static int WriteJsonLines(IEnumerable<string> lines, TextWriter output)
    {
        int count = 0;
        foreach (var line in lines)
        {
            output.Write(line);
            output.Write('\n');
            count++;
        }
        output.Flush();
        return count;
    }

    /// <summary>
    /// The records as a Parquet table: key, source, index, model, then caption (a caption job) or embedding (a list of
    /// floats, an embed job), error, and the source's text, metadata (its JSON text) and the reader's note. Written a
    /// row group at a time.
    /// </summary>
    public static async Task<int> WriteParquetAsync(IEnumerable<string> lines, string task, Stream output, CancellationToken cancel)
    {
        int count = 0;
        bool first = true;
        foreach (var chunk in lines.Select(JobRecord.FromJsonLine).Chunk(RowGroupSize))
        {
            var options = new ParquetOptions { Append = !first };
            if (task == "embed") await ParquetSerializer.SerializeAsync(chunk.Select(EmbeddingRow.From), output, options, null, cancel).ConfigureAwait(false);
            else await ParquetSerializer.SerializeAsync(chunk.Select(CaptionRow.From), output, options, null, cancel).ConfigureAwait(false);
            first = false;
            count += chunk.Length;
        }
        if (first) await ParquetSerializer.SerializeAsync(Array.Empty<CaptionRow>(), output, new ParquetOptions(), null, cancel).ConfigureAwait(false);
        return count;
    }
}

/// <summary>A caption job's Parquet row.</summary>
internal sealed class CaptionRow
{
    [System.Text.Json.Serialization.JsonPropertyName("key")] public string Key { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("source")] public string Source { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("index")] public long Index { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("model")] public string Model { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("caption")] public string? Caption { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("error")] public string? Error { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("text")] public string? Text { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("metadata")] public string? Metadata { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("note")] public string? Note { get; set; }

    public static CaptionRow From(JobRecord r) => new()
    {
        Key = r.Key, Source = r.Source, Index = r.Index, Model = r.Model, Caption = r.Caption, Error = r.Error,
        Text = r.Text, Metadata = r.Metadata?.GetRawText(), Note = r.Note,
    };
}

/// <summary>An embed job's Parquet row; a failed input's embedding is null.</summary>
internal sealed class EmbeddingRow
{
    [System.Text.Json.Serialization.JsonPropertyName("key")] public string Key { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("source")] public string Source { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("index")] public long Index { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("model")] public string Model { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("embedding")] public float[]? Embedding { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("error")] public string? Error { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("text")] public string? Text { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("metadata")] public string? Metadata { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("note")] public string? Note { get; set; }

    public static EmbeddingRow From(JobRecord r) => new()
    {
        Key = r.Key, Source = r.Source, Index = r.Index, Model = r.Model, Embedding = r.Embedding, Error = r.Error,
        Text = r.Text, Metadata = r.Metadata?.GetRawText(), Note = r.Note,
    };
}
