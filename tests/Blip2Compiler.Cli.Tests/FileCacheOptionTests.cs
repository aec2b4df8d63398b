using System.CommandLine;
using Blip2.Cli;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>--file-cache: whether a load leaves the checkpoint in the page cache (Blip2LoadOptions.KeepFileCache).
/// serve drops it by default (one load per server, whose pages are better spent on its parameters); the one-shot
/// commands keep it, since the next run reads the same file; either can be asked for.</summary>
public class FileCacheOptionTests
{
    [Theory]
    [InlineData(false, new string[0], true)]
    [InlineData(true, new string[0], false)]
    [InlineData(false, new[] { "--file-cache", "drop" }, false)]
    [InlineData(true, new[] { "--file-cache", "keep" }, true)]
    [InlineData(true, new[] { "--file-cache", "drop" }, false)]
    public void TheCommandsDefaultUnlessAsked(bool serve, string[] args, bool keeps)
    {
        var common = new CommonOptions();
        var root = new Command("blip2");
        common.AddTo(root);
        var parse = root.Parse(args);
        Assert.Empty(parse.Errors);
        using var settings = common.Read(parse, new CliContext(TextWriter.Null, TextWriter.Null, () => Stream.Null, Interactive: false), openOutput: false);
        Assert.Equal(keeps, settings.LoadOptions(dropFileCache: serve).KeepFileCache);
    }

    [Fact]
    public async Task CaptionWithTheCacheDroppedCaptions()
    {
        var run = await CliRun.Run("caption", CliRun.Photo, "--file-cache", "drop");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Single(run.OutLines);
    }

    [Fact]
    public async Task AnUnknownValueIsAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--file-cache", "forget")).AssertOneError(2);
        Assert.Contains("forget", line);
    }
}
