using System.Text.Json;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>A batch run goes on past an image that fails, reports it, and exits 1 at the end (issue 12, item 2).</summary>
public class BatchFailureTests
{
    /// <summary>a.png, b.png (junk), c.png, d.png: the junk one sits in the first batch of two.</summary>
    private static string FolderWithOneJunkImage(TempFolder temp)
    {
        foreach (var name in new[] { "a.png", "c.png", "d.png" }) File.Copy(CliRun.Photo, temp.File(name));
        temp.File("b.png", "not a PNG at all");
        return temp.Path;
    }

    [Fact]
    public async Task OneBadImageDoesNotAbortTheBatch()
    {
        using var temp = new TempFolder();
        var folder = FolderWithOneJunkImage(temp);
        var run = await CliRun.Run("caption", folder, "--batch-size", "2", "--max-new-tokens", "3", "--model", CliRun.TinyOpt);
        var error = Assert.Single(run.AssertInputErrors());
        Assert.StartsWith($"blip2: error: {Path.Combine(folder, "b.png")}: ", error);
        Assert.Equal(["a.png", "c.png", "d.png"], run.OutLines.Select(l => Path.GetFileName(l.Split('\t')[0])));
        Assert.Contains("3 images", run.ErrorLines[^1]);
        Assert.Contains("1 input failed", run.ErrorLines[^1]);
    }

    [Fact]
    public async Task JsonHasAnErrorRecordAndCountsTheFailure()
    {
        using var temp = new TempFolder();
        var run = await CliRun.Run("caption", FolderWithOneJunkImage(temp), "--batch-size", "2", "--max-new-tokens", "3", "--json", "--model", CliRun.TinyOpt);
        Assert.Single(run.AssertInputErrors());
        using var json = JsonDocument.Parse(run.Out);
        var captions = json.RootElement.GetProperty("captions").EnumerateArray().ToList();
        Assert.Equal(["a.png", "b.png", "c.png", "d.png"], captions.Select(c => Path.GetFileName(c.GetProperty("image").GetString())));
        Assert.False(captions[1].TryGetProperty("text", out _));
        Assert.Contains("unknown image format", captions[1].GetProperty("error").GetString());
        Assert.True(captions[0].TryGetProperty("text", out _));
        Assert.Equal(3, json.RootElement.GetProperty("summary").GetProperty("images").GetInt32());
        Assert.Equal(1, json.RootElement.GetProperty("summary").GetProperty("failed").GetInt32());
    }

    [Fact]
    public async Task JsonLinesWritesOneObjectPerInputInOrder()
    {
        using var temp = new TempFolder();
        var run = await CliRun.Run("caption", FolderWithOneJunkImage(temp), "--batch-size", "2", "--max-new-tokens", "3", "--jsonl", "--model", CliRun.TinyOpt);
        Assert.Single(run.AssertInputErrors());
        var records = run.OutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["a.png", "b.png", "c.png", "d.png"], records.Select(r => Path.GetFileName(r.GetProperty("image").GetString())));
        Assert.Equal([true, false, true, true], records.Select(r => r.TryGetProperty("text", out _)));
        Assert.True(records[1].TryGetProperty("error", out _));
    }

    [Fact]
    public async Task FailFastStopsAtTheFirstFailure()
    {
        using var temp = new TempFolder();
        var run = await CliRun.Run("caption", FolderWithOneJunkImage(temp), "--batch-size", "1", "--max-new-tokens", "3", "--fail-fast", "--model", CliRun.TinyOpt);
        Assert.Single(run.AssertInputErrors());
        Assert.Equal(["a.png"], run.OutLines.Select(l => Path.GetFileName(l.Split('\t')[0])));
    }

    [Fact]
    public async Task MissingArgumentsAreNamedTogetherBeforeAnyWork()
    {
        var run = await CliRun.Run("caption", CliRun.Photo, "gone-1.png", "gone-2.png", "--model", CliRun.TinyOpt);
        var line = run.AssertOneError(1);
        Assert.Contains("'gone-1.png'", line);
        Assert.Contains("'gone-2.png'", line);
    }
}
