using System.Text.Json;
using Parquet.Serialization;

namespace Blip2Compiler.Tests.CommandLine.Jobs;

/// <summary>blip2 job and blip2 merge in-process over real tar shards and Parquet tables (issue 17): parts, resume, failures.</summary>
public class JobRunTests
{
    /// <summary>Two WebDataset shards (3 samples, the second's middle one junk) and a table of 5 rows in row groups of 2: 5 units, 11 inputs.</summary>
    private static string[] Dataset(TempFolder temp)
    {
        JobDataset.WebDatasetShard(Path.Combine(temp.Path, "shards"), 0, 3);
        JobDataset.WebDatasetShard(Path.Combine(temp.Path, "shards"), 1, 3, seed => seed == 10_001 ? "junk"u8.ToArray() : JobDataset.Png(seed));
        var rows = Enumerable.Range(0, 5).Select(i => new JobDataset.StructRow { Image = new() { Bytes = JobDataset.Png(100 + i) }, Label = i }).ToList();
        JobDataset.Parquet(temp.File("table/train.parquet"), rows, rowGroupSize: 2);
        return [temp.File("shards"), temp.File("table/train.parquet")];
    }

    private static string[] Job(string[] inputs, string output, params string[] more) =>
        ["job", "caption", .. inputs, "--output-dir", output, "--max-new-tokens", "3", "--batch-size", "2", "--threads", "1", "--model", CliRun.TinyOpt, .. more];

    private static List<JsonElement> Records(string jsonLines) =>
        [.. jsonLines.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];

    [Fact]
    public async Task AJobWritesOnePartPerUnitAndMergesInTheJobsOrder()
    {
        using var temp = new TempFolder();
        var output = temp.File("out");
        var run = await CliRun.Run(Job(Dataset(temp), output));
        Assert.True(run.ExitCode == 0, run.Error);   // a junk image is a record, not the worker's failure
        Assert.Equal(5, Directory.GetFiles(output, "part-*.jsonl").Length);
        Assert.Empty(Directory.GetFiles(output, ".*"));   // no temporary files left

        var merged = await CliRun.Run("merge", output);
        Assert.Equal(0, merged.ExitCode);
        var records = Records(merged.Out);
        Assert.Equal(11, records.Count);
        Assert.Equal(["000000000", "000000001", "000000002", "000010000", "000010001", "000010002", "0", "1", "2", "3", "4"],
            records.Select(r => r.GetProperty("key").GetString()));
        Assert.Equal([0L, 1, 2, 0, 1, 2, 0, 1, 2, 3, 4], records.Select(r => r.GetProperty("index").GetInt64()));
        var junk = records[4];
        Assert.Contains("unknown image format", junk.GetProperty("error").GetString());
        Assert.False(junk.TryGetProperty("caption", out _));
        Assert.All(records.Where(r => !r.TryGetProperty("error", out _)), r => Assert.False(string.IsNullOrEmpty(r.GetProperty("caption").GetString())));
        Assert.All(records, r => Assert.Equal("blip2-tiny-opt", r.GetProperty("model").GetString()));
        // The tar samples' .txt and .json members come along (the junk image's too); the table has neither.
        Assert.All(records[..6], r => Assert.Equal("a caption", r.GetProperty("text").GetString()));
        Assert.All(records[..6], r => Assert.Equal("http://example.com", r.GetProperty("metadata").GetProperty("url").GetString()));
        Assert.All(records[6..], r => Assert.False(r.TryGetProperty("text", out _) || r.TryGetProperty("metadata", out _)));
    }

    [Fact]
    public async Task MergeToParquetHoldsTheSameRecords()
    {
        using var temp = new TempFolder();
        var output = temp.File("out");
        Assert.Equal(0, (await CliRun.Run(Job(Dataset(temp), output))).ExitCode);
        var lines = Records((await CliRun.Run("merge", output)).Out);
        var table = temp.File("all.parquet");
        var merged = await CliRun.Run("merge", output, "--output", table);
        Assert.True(merged.ExitCode == 0, merged.Error);
        var read = await ParquetSerializer.DeserializeAsync<Blip2.Cli.Jobs.CaptionRow>(table);
        Assert.Equal(["key", "source", "index", "model", "caption", "error", "text", "metadata", "note"], read.Schema.Fields.Select(f => f.Name));
        var rows = read.Data;
        Assert.Equal(lines.Select(r => r.TryGetProperty("text", out var t) ? t.GetString() : null), rows.Select(r => r.Text));
        Assert.Equal(lines.Select(r => r.TryGetProperty("metadata", out var m) ? m.GetRawText() : null), rows.Select(r => r.Metadata));
        Assert.Equal("""{"url":"http://example.com"}""", rows[0].Metadata);
        Assert.Equal(lines.Select(r => r.GetProperty("key").GetString()), rows.Select(r => r.Key));
        Assert.Equal(lines.Select(r => r.TryGetProperty("caption", out var c) ? c.GetString() : null), rows.Select(r => r.Caption));
        Assert.Equal(lines.Select(r => r.TryGetProperty("error", out var c) ? c.GetString() : null), rows.Select(r => r.Error));
    }

    [Fact]
    public async Task OutputWritesTheJobsTableWhenTheJobIsWhole()
    {
        using var temp = new TempFolder();
        var inputs = Dataset(temp);
        // One worker, no --output-dir: the parts go beside the table, and the table is what merge writes.
        var table = temp.File("captions.parquet");
        var run = await CliRun.Run(["job", "caption", .. inputs, "--output", table, "--max-new-tokens", "3", "--batch-size", "2", "--threads", "1", "--model", CliRun.TinyOpt]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains($"wrote {table}: 11 records, the whole job", run.Error);
        Assert.Equal("", run.Out);
        Assert.Equal(5, Directory.GetFiles(table + ".parts", "part-*.jsonl").Length);
        var lines = Records((await CliRun.Run("merge", table + ".parts")).Out);
        var rows = (await ParquetSerializer.DeserializeAsync<Blip2.Cli.Jobs.CaptionRow>(table)).Data;
        Assert.Equal(lines.Select(r => r.GetProperty("key").GetString()), rows.Select(r => r.Key));
        Assert.Equal(lines.Select(r => r.TryGetProperty("caption", out var c) ? c.GetString() : null), rows.Select(r => r.Caption));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));

        // Two workers into one folder: the first to finish says the job is not whole, the second writes the table.
        var parts = temp.File("parts");
        var jsonl = temp.File("captions.jsonl");
        var first = await CliRun.Run([.. Job(inputs, parts, "--shard", "0/2"), "--output", jsonl]);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("is written by the worker that finishes the job", first.Error);
        Assert.False(File.Exists(jsonl));
        var second = await CliRun.Run([.. Job(inputs, parts, "--shard", "1/2"), "--output", jsonl]);
        Assert.True(second.ExitCode == 0, second.Error);
        var merged = (await CliRun.Run("merge", parts)).Out;
        Assert.Equal(merged, File.ReadAllText(jsonl));
        // A rerun with every part written writes the table again (a worker killed while writing it, restarted).
        File.Delete(jsonl);
        Assert.Equal(0, (await CliRun.Run([.. Job(inputs, parts, "--shard", "0/2"), "--output", jsonl])).ExitCode);
        Assert.Equal(merged, File.ReadAllText(jsonl));

        Assert.Contains("the table's format comes from its extension", (await CliRun.Run([.. Job(inputs, parts), "--output", temp.File("t.csv")])).AssertOneError(2));
        Assert.Contains("give --output-dir DIR", (await CliRun.Run("job", "caption", CliRun.Photo, "--model", CliRun.TinyOpt)).AssertOneError(2));
    }

    [Fact]
    public async Task EmbedJobRecordsFixedSizeVectorsAndMergesToParquet()
    {
        using var temp = new TempFolder();
        var output = temp.File("out");
        var run = await CliRun.Run(["job", "embed", .. Dataset(temp), "--output-dir", output, "--threads", "1", "--model", CliRun.TinyItm]);
        Assert.True(run.ExitCode == 0, run.Error);
        var records = Records((await CliRun.Run("merge", output)).Out);
        var vectors = records.Where(r => r.TryGetProperty("embedding", out _)).Select(r => r.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToList();
        Assert.Equal(10, vectors.Count);
        Assert.Single(vectors.Select(v => v.Length).Distinct());
        Assert.All(vectors, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4));
        var table = temp.File("e.parquet");
        Assert.Equal(0, (await CliRun.Run("merge", output, "-o", table)).ExitCode);
        var rows = (await ParquetSerializer.DeserializeAsync<Blip2.Cli.Jobs.EmbeddingRow>(table)).Data;
        Assert.Equal(11, rows.Count);
        Assert.Equal(vectors[0], rows[0].Embedding);
    }

    [Fact]
    public async Task ARerunSkipsWrittenPartsAndRedoesAnUnfinishedOne()
    {
        using var temp = new TempFolder();
        var inputs = Dataset(temp);
        var output = temp.File("out");
        Assert.Equal(0, (await CliRun.Run(Job(inputs, output))).ExitCode);
        var before = Records((await CliRun.Run("merge", output)).Out).Select(r => r.ToString()).ToList();
        // A worker killed while writing part 2: its temporary file is there, the part is not.
        var part = Directory.GetFiles(output, "part-000002-*").Single();
        File.Move(part, Path.Combine(output, "." + Path.GetFileName(part) + ".12345.tmp"));
        var stamps = Directory.GetFiles(output, "part-*").ToDictionary(f => f, File.GetLastWriteTimeUtc);

        var rerun = await CliRun.Run(Job(inputs, output));
        Assert.True(rerun.ExitCode == 0, rerun.Error);
        Assert.Contains("4 already written", rerun.Error);
        Assert.Contains("left it unfinished", rerun.Error);
        Assert.All(stamps, s => Assert.Equal(s.Value, File.GetLastWriteTimeUtc(s.Key)));
        Assert.Empty(Directory.GetFiles(output, ".*"));
        Assert.Equal(before, Records((await CliRun.Run("merge", output)).Out).Select(r => r.ToString()));
    }

    [Fact]
    public async Task MergeRefusesAJobWithHoles()
    {
        using var temp = new TempFolder();
        var inputs = Dataset(temp);
        var output = temp.File("out");
        Assert.Equal(0, (await CliRun.Run(Job(inputs, output, "--shard", "0/2"))).ExitCode);
        var merged = await CliRun.Run("merge", output);
        var error = merged.AssertOneError(1);
        Assert.Contains("shard 1/2 wrote no manifest", error);
        Assert.Equal(0, (await CliRun.Run(Job(inputs, output, "--shard", "1/2"))).ExitCode);
        File.Delete(Directory.GetFiles(output, "part-000003-*").Single());
        Assert.Contains("1 part is not written (part-000003-train.parquet.rg0001.jsonl)", (await CliRun.Run("merge", output)).AssertOneError(1));
    }

    [Fact]
    public async Task AnotherJobIntoTheSameFolderIsRefused()
    {
        using var temp = new TempFolder();
        var inputs = Dataset(temp);
        var output = temp.File("out");
        Assert.Equal(0, (await CliRun.Run(Job(inputs, output))).ExitCode);
        Assert.Contains("its settings was", (await CliRun.Run(Job(inputs, output, "--prompt", "a photo of"))).AssertOneError(2));
        Assert.Contains("its number of workers was 1, this run's is 3", (await CliRun.Run(Job(inputs, output, "--shard", "0/3"))).AssertOneError(2));
        Assert.Contains("its inputs was 5 units", (await CliRun.Run(Job([inputs[0]], output))).AssertOneError(2));
    }

    [Fact]
    public async Task AnUnreadableShardFailsTheWorkerAfterTheOtherParts()
    {
        using var temp = new TempFolder();
        var inputs = Dataset(temp);
        File.WriteAllBytes(temp.File("shards/00000.tar"), File.ReadAllBytes(temp.File("shards/00000.tar"))[..700]);
        var output = temp.File("out");
        var run = await CliRun.Run(Job(inputs, output));
        var errors = run.AssertInputErrors();
        Assert.Contains(errors, e => e.Contains("00000.tar") && e.Contains("truncated"));
        Assert.Equal(4, Directory.GetFiles(output, "part-*.jsonl").Length);
        Assert.Empty(Directory.GetFiles(output, ".*"));
    }

    [Fact]
    public async Task LooseFilesAndFilesFromListGoInFixedGroups()
    {
        using var temp = new TempFolder();
        for (int i = 0; i < 5; i++) File.WriteAllBytes(temp.File($"pics/{i}.png"), JobDataset.Png(i));
        var list = temp.File("list.txt", string.Join('\n', Enumerable.Range(0, 5).Select(i => temp.File($"pics/{i}.png"))) + "\n\n");
        var output = temp.File("out");
        var run = await CliRun.Run(["job", "caption", "--files-from", list, "--part-size", "2", "--output-dir", output, "--max-new-tokens", "2", "--threads", "1", "--model", CliRun.TinyOpt]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(["part-000000-files.0000.jsonl", "part-000001-files.0001.jsonl", "part-000002-files.0002.jsonl"],
            Directory.GetFiles(output, "part-*").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var records = Records((await CliRun.Run("merge", output)).Out);
        Assert.Equal(["0", "1", "2", "3", "4"], records.Select(r => r.GetProperty("key").GetString()));
    }

    [Fact]
    public async Task CommandLineMistakesAreUsageErrors()
    {
        using var temp = new TempFolder();
        Assert.Contains("--output-dir", (await CliRun.Run("job", "caption", CliRun.Photo)).AssertOneError(2));
        Assert.Contains("--shard takes I/N", (await CliRun.Run("job", "caption", CliRun.Photo, "--output-dir", temp.Path, "--shard", "3")).AssertOneError(2));
        Assert.Contains("no inputs", (await CliRun.Run("job", "embed", "--output-dir", temp.Path)).AssertOneError(2));
        Assert.Contains("does not exist", (await CliRun.Run("job", "caption", temp.File("nope.tar"), "--output-dir", temp.Path)).AssertOneError(1));
        Assert.Contains("holds no job manifest", (await CliRun.Run("merge", temp.Path)).AssertOneError(1));
    }

    [Fact]
    public async Task JobCaptionsAreTheCaptionCommands()
    {
        // The job hands the model batches it preprocessed on its own threads (Caption(Tensor)); blip2 caption hands
        // it the images (Caption(ImageSource)). Same images, same batches: the same texts.
        using var temp = new TempFolder();
        for (int i = 0; i < 4; i++) File.WriteAllBytes(temp.File($"pics/{i}.png"), JobDataset.Png(40 + i));
        var output = temp.File("out");
        Assert.Equal(0, (await CliRun.Run(Job([temp.File("pics")], output))).ExitCode);
        var job = Records((await CliRun.Run("merge", output)).Out).Select(r => r.GetProperty("caption").GetString()).ToList();
        var caption = await CliRun.Run("caption", temp.File("pics"), "--max-new-tokens", "3", "--batch-size", "2", "--threads", "1", "--model", CliRun.TinyOpt);
        Assert.Equal(caption.OutLines.Select(l => l.Split('\t')[1]), job);
    }
}
