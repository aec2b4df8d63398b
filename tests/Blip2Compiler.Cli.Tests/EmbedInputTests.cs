using System.Text.Json;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>embed never guesses between a file and a text: arguments are images, texts come with --text (issue 12, item 6).</summary>
public class EmbedInputTests
{
    [Fact]
    public async Task AMistypedPathWithASpaceIsAnErrorNotAText()
    {
        var line = (await CliRun.Run("embed", "my photos/beach.jpg", "--model", CliRun.TinyItm)).AssertOneError(1);
        Assert.Contains("'my photos/beach.jpg' does not exist", line);
        Assert.Contains("--text", line);
    }

    [Fact]
    public async Task ATextThatNamesAFileIsStillAText()
    {
        using var temp = new TempFolder();
        File.Copy(CliRun.Photo, temp.File("astronaut"));
        var asText = await CliRun.Run("embed", "--text", Path.Combine(temp.Path, "astronaut"), "--model", CliRun.TinyItm);
        Assert.True(asText.ExitCode == 0, asText.Error);
        using var json = JsonDocument.Parse(asText.Out);
        Assert.Equal("text", json.RootElement.GetProperty("embeddings")[0].GetProperty("kind").GetString());
    }

    [Fact]
    public async Task NothingToEmbedIsAUsageError()
    {
        (await CliRun.Run("embed", "--model", CliRun.TinyItm)).AssertOneError(2);
    }

    [Fact]
    public async Task ABadImageIsReportedAndTheRestEmbedded()
    {
        using var temp = new TempFolder();
        var junk = temp.File("junk.png", "not an image");
        var run = await CliRun.Run("embed", CliRun.Photo, junk, "--text", "an astronaut", "--jsonl", "--model", CliRun.TinyItm);
        Assert.StartsWith($"blip2: error: {junk}: ", Assert.Single(run.AssertInputErrors()));
        var records = run.OutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["image", "image", "text"], records.Select(r => r.GetProperty("kind").GetString()));
        Assert.True(records[1].TryGetProperty("error", out _));
        Assert.Equal(24, records[2].GetProperty("embedding").GetArrayLength());
        Assert.Contains("1 image, 1 text", run.ErrorLines[^1]);
    }
}
