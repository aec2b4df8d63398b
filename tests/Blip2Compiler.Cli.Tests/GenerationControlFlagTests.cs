using System.Text.Json;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>--stop, -n/--num-return-sequences, --no-repeat-ngram-size and the diverse beam search flags.</summary>
public class GenerationControlFlagTests
{
    private static async Task<string> Caption(params string[] extra)
    {
        string[] length = extra.Contains("--max-new-tokens") ? [] : ["--max-new-tokens", "12"];
        var run = await CliRun.Run(["caption", CliRun.Photo, "--model", CliRun.TinyOpt, .. length, .. extra]);
        Assert.True(run.ExitCode == 0, run.Error);
        return Assert.Single(run.OutLines).Split('\t')[1];
    }

    [Fact]
    public async Task StopEndsTheTextBeforeTheStopString()
    {
        var free = await Caption();
        // A stop text from the middle of the free caption: greedy decoding is the same up to it, then ends there.
        var middle = free.Length / 2;
        while (middle < free.Length - 2 && char.IsWhiteSpace(free[middle])) middle++;
        var stop = free.Substring(middle, 2);
        var expected = free[..free.IndexOf(stop, StringComparison.Ordinal)].TrimEnd();
        Assert.Equal(expected, await Caption("--stop", stop));
        Assert.Equal(expected, await Caption("--stop", "never-in-this-caption", "--stop", stop));   // repeatable
    }

    [Fact]
    public async Task NumReturnSequencesPrintsOneLinePerTextOrAJsonArray()
    {
        var lines = await CliRun.Run("caption", CliRun.Photo, "--model", CliRun.TinyOpt, "--max-new-tokens", "5", "--beams", "3", "-n", "3");
        Assert.True(lines.ExitCode == 0, lines.Error);
        Assert.Equal(3, lines.OutLines.Length);
        Assert.All(lines.OutLines, line => Assert.StartsWith(CliRun.Photo + "\t", line));

        var json = await CliRun.Run("caption", CliRun.Photo, "--model", CliRun.TinyOpt, "--max-new-tokens", "5", "--beams", "3",
            "--num-return-sequences", "3", "--json");
        Assert.True(json.ExitCode == 0, json.Error);
        using var document = JsonDocument.Parse(json.Out);
        var caption = document.RootElement.GetProperty("captions")[0];
        var texts = caption.GetProperty("texts").EnumerateArray().Select(t => t.GetString()).ToArray();
        Assert.Equal(lines.OutLines.Select(l => l.Split('\t')[1]), texts);
        Assert.Equal(texts[0], caption.GetProperty("text").GetString());
        // The best of the three is the caption beam search gives alone.
        Assert.Equal(texts[0], await Caption("--max-new-tokens", "5", "--beams", "3"));

        var ask = await CliRun.Run("ask", CliRun.Photo, "what is it?", "--model", CliRun.TinyOpt, "--max-new-tokens", "4",
            "--sample", "--seed", "3", "-n", "2", "--jsonl");
        Assert.True(ask.ExitCode == 0, ask.Error);
        using var answered = JsonDocument.Parse(Assert.Single(ask.OutLines));
        Assert.Equal(2, answered.RootElement.GetProperty("answers").GetArrayLength());
    }

    [Fact]
    public async Task DiverseBeamSearchAndNoRepeatNGramsRun()
    {
        var diverse = await CliRun.Run("caption", CliRun.Photo, "--model", CliRun.TinyOpt, "--max-new-tokens", "5",
            "--beams", "4", "--beam-groups", "2", "--diversity-penalty", "1.5", "-n", "4");
        Assert.True(diverse.ExitCode == 0, diverse.Error);
        Assert.Equal(4, diverse.OutLines.Length);
        var run = await CliRun.Run("caption", CliRun.Photo, "--model", CliRun.TinyOpt, "--max-new-tokens", "8", "--no-repeat-ngram-size", "2");
        Assert.True(run.ExitCode == 0, run.Error);
    }

    [Theory]
    [InlineData("-n/--num-return-sequences", "-n", "2")]                                        // greedy gives one
    [InlineData("--beams", "--beams", "2", "-n", "3")]                                          // more than the beams
    [InlineData("--beam-groups", "--beams", "3", "--beam-groups", "2", "--diversity-penalty", "1")]
    [InlineData("--diversity-penalty", "--beams", "4", "--beam-groups", "2")]
    [InlineData("--no-repeat-ngram-size", "--no-repeat-ngram-size", "-1")]
    [InlineData("--stop", "--stop", "")]
    public async Task ImpossibleControlsAreUsageErrorsNamingTheFlag(string named, params string[] flags)
    {
        var line = (await CliRun.Run(["caption", CliRun.Photo, "--model", CliRun.TinyOpt, .. flags])).AssertOneError(2);
        Assert.Contains(named, line);
    }
}
