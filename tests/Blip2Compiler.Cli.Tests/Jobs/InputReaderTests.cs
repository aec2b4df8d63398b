using Blip2.Cli.Jobs;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.CommandLine.Jobs;

/// <summary>WebDataset tar shards and Parquet tables read as samples (issue 17): real files written with TarWriter and Parquet.Net.</summary>
public class InputReaderTests
{
    private static async Task<List<JobSample>> All(IAsyncEnumerable<JobSample> samples)
    {
        var list = new List<JobSample>();
        await foreach (var s in samples) list.Add(s);
        return list;
    }

    private static Task<List<JobSample>> ReadTar(string path) => All(WebDatasetTar.ReadAsync(path, e => e is ".png" or ".jpg", 1 << 20));

    [Fact]
    public async Task TarMembersGroupIntoSamplesByKey()
    {
        using var temp = new TempFolder();
        var shard = JobDataset.WebDatasetShard(temp.Path, 7, 3);
        var samples = await ReadTar(shard);
        Assert.Equal(["000070000", "000070001", "000070002"], samples.Select(s => s.Key));
        Assert.Equal([0L, 1, 2], samples.Select(s => s.Index));
        Assert.All(samples, s => Assert.Null(s.Problem));
        Assert.Equal(JobDataset.Png(70_001), samples[1].Bytes.ToArray());
        Assert.All(samples, s => Assert.Equal(shard, s.Source));
    }

    [Fact]
    public async Task TarSamplesCarryTheirTextAndJsonMembers()
    {
        using var temp = new TempFolder();
        var samples = await ReadTar(JobDataset.WebDatasetShard(temp.Path, 2, 2));
        Assert.All(samples, s => Assert.Equal("a caption", s.Text));
        Assert.All(samples, s => Assert.Equal("http://example.com", s.Metadata!.Value.GetProperty("url").GetString()));
        Assert.All(samples, s => Assert.Null(s.Note));

        var tar = JobDataset.Tar(temp.File("odd.tar"),
        [
            ("a.png", JobDataset.Png(1)), ("a.txt", new byte[] { 0xC3, 0x28 }), ("a.json", "{\"url\": "u8.ToArray()),
            ("b.png", JobDataset.Png(2)), ("b.txt", "légende"u8.ToArray()), ("b.json", """[1, {"w": 2}]"""u8.ToArray()),
            ("c.png", JobDataset.Png(3)), ("c.txt", new byte[WebDatasetTar.MaxTextMemberBytes + 1]),
        ]);
        var odd = await ReadTar(tar);
        Assert.Equal([null, "légende", null], odd.Select(s => s.Text));
        Assert.Contains("member 'a.txt' is not UTF-8 text: left out", odd[0].Note);
        Assert.Contains("member 'a.json' is not JSON", odd[0].Note);
        Assert.Null(odd[0].Metadata);
        Assert.Equal("""[1,{"w":2}]""", System.Text.Json.JsonSerializer.Serialize(odd[1].Metadata));
        Assert.Contains($"member 'c.txt' is {WebDatasetTar.MaxTextMemberBytes + 1} bytes", odd[2].Note);
        Assert.All(odd, s => Assert.Null(s.Problem));   // what the metadata lacks is a note, not a failure
    }

    [Fact]
    public async Task MembersThatAreNotAdjacentAreSecondSamplesWithANote()
    {
        // All the images, then all the texts (tar cf x.tar *.png *.txt): WebDataset groups runs of adjacent members,
        // so each key's text is a sample of its own; its record says so and where the image's record is.
        using var temp = new TempFolder();
        var tar = JobDataset.Tar(temp.File("split.tar"), [("a.png", JobDataset.Png(1)), ("b.png", JobDataset.Png(2)), ("a.txt", "cap a"u8.ToArray()), ("b.txt", "cap b"u8.ToArray())]);
        var samples = await ReadTar(tar);
        Assert.Equal(["a", "b", "a", "b"], samples.Select(s => s.Key));
        Assert.Equal([null, null, "cap a", "cap b"], samples.Select(s => s.Text));
        Assert.Null(samples[0].Note);
        Assert.Null(samples[0].Problem);
        Assert.Contains("the members of sample 'a' are not adjacent in the tar", samples[2].Note);
        Assert.Contains("the first is at index 0", samples[2].Note);
        Assert.Contains("the first is at index 1", samples[3].Note);
        Assert.Contains("no image member (its members: .txt)", samples[2].Problem);
    }

    [Fact]
    public void WebDatasetKeysEndAtTheFirstDotOfTheFileName()
    {
        Assert.Equal(("a/b.c/000001", "seg.png"), WebDatasetTar.SplitName("a/b.c/000001.seg.PNG"));
        Assert.Equal(("x", ""), WebDatasetTar.SplitName("x"));
    }

    [Fact]
    public async Task ASampleWithoutAnImageHasAProblemAndTheOthersGoOn()
    {
        using var temp = new TempFolder();
        var tar = JobDataset.Tar(temp.File("s.tar"), [("a.png", JobDataset.Png(1)), ("b.txt", "only text"u8.ToArray()), ("b.json", "{}"u8.ToArray()), ("c.png", JobDataset.Png(2))]);
        var samples = await ReadTar(tar);
        Assert.Equal(["a", "b", "c"], samples.Select(s => s.Key));
        Assert.Contains("no image member (its members: .txt, .json)", samples[1].Problem);
        Assert.Null(samples[2].Problem);
    }

    [Fact]
    public async Task AnImageMemberOverTheLimitIsNotRead()
    {
        using var temp = new TempFolder();
        var tar = JobDataset.Tar(temp.File("s.tar"), [("a.png", new byte[5000]), ("b.png", JobDataset.Png(2))]);
        var samples = await All(WebDatasetTar.ReadAsync(tar, e => e == ".png", 4096));
        Assert.Contains("5000 bytes, more than the limit of 4096", samples[0].Problem);
        Assert.Null(samples[1].Problem);
    }

    [Fact]
    public async Task ATruncatedOrForeignTarIsTheShardsFailure()
    {
        using var temp = new TempFolder();
        var good = File.ReadAllBytes(JobDataset.WebDatasetShard(temp.Path, 1, 4));
        File.WriteAllBytes(temp.File("cut.tar"), good[..(good.Length / 2 + 100)]);
        var cut = await Assert.ThrowsAsync<InputShardException>(() => ReadTar(temp.File("cut.tar")));
        Assert.Equal(temp.File("cut.tar"), cut.Unit);
        File.WriteAllBytes(temp.File("junk.tar"), Enumerable.Repeat((byte)'x', 2048).ToArray());
        await Assert.ThrowsAsync<InputShardException>(() => ReadTar(temp.File("junk.tar")));
        var missing = await Assert.ThrowsAsync<InputShardException>(() => ReadTar(temp.File("none.tar")));
        Assert.Contains("cannot be read", missing.Problem);
    }

    [Fact]
    public async Task ParquetImageBytesColumnByRowGroupWithItsKeys()
    {
        using var temp = new TempFolder();
        var rows = Enumerable.Range(0, 7).Select(i => new JobDataset.BytesRow { Key = $"k{i}", Image = i == 4 ? null : JobDataset.Png(i) }).ToList();
        var file = JobDataset.Parquet(temp.File("t.parquet"), rows, rowGroupSize: 3);
        var table = await ParquetImageTable.OpenAsync(file, null);
        Assert.Equal(("jpg", ImageColumnKind.Bytes), (table.Column, table.Kind));
        Assert.Equal([3L, 3, 1], table.RowCounts);
        var second = await All(table.ReadRowGroupAsync(1));
        Assert.Equal(["k3", "k4", "k5"], second.Select(s => s.Key));
        Assert.Equal([3L, 4, 5], second.Select(s => s.Index));
        Assert.Equal(JobDataset.Png(3), second[0].Bytes.ToArray());
        Assert.Contains("row 4 has no image", second[1].Problem);
    }

    [Fact]
    public async Task ParquetCaptionColumnIsTheRecordsText()
    {
        using var temp = new TempFolder();
        var rows = new List<JobDataset.CaptionedRow> { new() { Image = JobDataset.Png(1), Caption = "a red square" }, new() { Image = JobDataset.Png(2), Caption = null } };
        var table = await ParquetImageTable.OpenAsync(JobDataset.Parquet(temp.File("c.parquet"), rows, 10), null);
        Assert.Equal("caption", table.TextColumn);
        Assert.Equal(["a red square", null], (await All(table.ReadRowGroupAsync(0))).Select(s => s.Text));
        var plain = await ParquetImageTable.OpenAsync(JobDataset.Parquet(temp.File("p.parquet"), [new JobDataset.BytesRow { Key = "k", Image = JobDataset.Png(1) }], 10), null);
        Assert.Null(plain.TextColumn);
    }

    [Fact]
    public async Task ParquetHuggingFaceImageStructTakesBytesElseThePath()
    {
        using var temp = new TempFolder();
        File.WriteAllBytes(temp.File("pics/on-disk.png"), JobDataset.Png(9));
        var rows = new List<JobDataset.StructRow>
        {
            new() { Image = new() { Bytes = JobDataset.Png(1), Path = "embedded.png" }, Label = 1 },
            new() { Image = new() { Bytes = null, Path = "pics/on-disk.png" }, Label = 2 },
            new() { Image = new() { Bytes = null, Path = null }, Label = 3 },
        };
        var file = JobDataset.Parquet(temp.File("hf.parquet"), rows, rowGroupSize: 10);
        var table = await ParquetImageTable.OpenAsync(file, null);
        Assert.Equal(("image", ImageColumnKind.Struct), (table.Column, table.Kind));
        var samples = await All(table.ReadRowGroupAsync(0));
        Assert.Equal(JobDataset.Png(1), samples[0].Bytes.ToArray());
        Assert.Equal(temp.File("pics/on-disk.png"), samples[1].File);
        Assert.Equal(["0", "1", "2"], samples.Select(s => s.Key));
        Assert.NotNull(samples[2].Problem);
    }

    [Fact]
    public async Task ParquetPathColumnIsRelativeToTheTable()
    {
        using var temp = new TempFolder();
        var file = JobDataset.Parquet(temp.File("data/paths.parquet"), [new JobDataset.PathRow { Path = "img/a.png" }, new JobDataset.PathRow { Path = "/abs/b.png" }], 10);
        var table = await ParquetImageTable.OpenAsync(file, null);
        Assert.Equal(ImageColumnKind.Path, table.Kind);
        var samples = await All(table.ReadRowGroupAsync(0));
        Assert.Equal([temp.File("data/img/a.png"), "/abs/b.png"], samples.Select(s => s.File));
    }

    [Fact]
    public async Task ATableWithoutAnImageColumnOrNotParquetIsTheUnitsFailure()
    {
        using var temp = new TempFolder();
        var file = JobDataset.Parquet(temp.File("labels.parquet"), [new JobDataset.StructRow { Label = 1 }], 10);
        var named = await Assert.ThrowsAsync<InputShardException>(() => ParquetImageTable.OpenAsync(file, "pixels"));
        Assert.Contains("has no column 'pixels' (its columns: image (Struct), label (Int64))", named.Message);
        await Assert.ThrowsAsync<InputShardException>(() => ParquetImageTable.OpenAsync(JobDataset.Parquet(temp.File("none.parquet"), [new { Label = 1L }], 10), null));
        File.WriteAllText(temp.File("fake.parquet"), "not parquet at all");
        await Assert.ThrowsAsync<InputShardException>(() => ParquetImageTable.OpenAsync(temp.File("fake.parquet"), null));
    }
}
