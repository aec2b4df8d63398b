using System.Text.Json;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>What a command-line user expects of any tool: help, usage, plain parse errors, -o, -q, -, exit codes.</summary>
public class CommandLineConventionTests
{
    [Fact]
    public async Task UsageNamesTheToolBlip2()
    {
        var run = await CliRun.Run("--help");
        Assert.Contains("blip2 [command] [options]", run.Out);
        Assert.DoesNotContain("Blip2.Cli", run.Out);
        Assert.DoesNotContain("testhost", run.Out);
    }

    [Fact]
    public async Task HelpCommandPrintsACommandsHelp()
    {
        var run = await CliRun.Run("help", "caption");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("blip2 caption", run.Out);
        Assert.Contains("--batch-size", run.Out);
        Assert.Equal("", run.Error);
        Assert.Equal((await CliRun.Run("caption", "--help")).Out, run.Out);
    }

    [Fact]
    public async Task HelpForAnUnknownCommandIsAUsageError()
    {
        var line = (await CliRun.Run("help", "describe")).AssertOneError(2);
        Assert.Contains("caption", line);
    }

    [Theory]
    [InlineData("--beams", "abc", "whole number")]
    [InlineData("--max-new-tokens", "2.5", "whole number")]
    [InlineData("--top-p", "high", "number")]
    [InlineData("--seed", "x", "whole number")]
    [InlineData("--threads", "many", "whole number")]
    public async Task ParseErrorsSayWhatWasExpectedWithoutDotNetTypeNames(string option, string value, string expected)
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, option, value)).AssertOneError(2);
        Assert.Contains($"{option} expects a {expected}", line);
        Assert.Contains($"'{value}'", line);
        Assert.DoesNotContain("System.", line);
        Assert.Contains("blip2 caption --help", line);
    }

    [Fact]
    public async Task OutputOptionWritesResultsToTheFile()
    {
        using var temp = new TempFolder();
        var file = Path.Combine(temp.Path, "captions.jsonl");
        var run = await CliRun.Run("caption", CliRun.Photo, "--max-new-tokens", "3", "--jsonl", "-o", file, "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal("", run.Out);
        using var json = JsonDocument.Parse(Assert.Single(File.ReadAllLines(file)));
        Assert.Equal(CliRun.Photo, json.RootElement.GetProperty("image").GetString());
    }

    [Fact]
    public async Task QuietLeavesStderrEmpty()
    {
        var run = await CliRun.Run("caption", CliRun.Photo, "--max-new-tokens", "3", "-q");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal("", run.Error);
        Assert.Single(run.OutLines);
    }

    [Fact]
    public async Task EveryCommandEndsWithASummaryLine()
    {
        foreach (var args in new[]
        {
            new[] { "caption", CliRun.Photo, "--max-new-tokens", "3", "--model", CliRun.TinyOpt },
            ["ask", CliRun.Photo, "why?", "--max-new-tokens", "3", "--model", CliRun.TinyOpt],
            ["match", CliRun.Photo, "a", "b", "--model", CliRun.TinyItm],
            ["embed", CliRun.Photo, "--text", "a", "--model", CliRun.TinyItm],
        })
        {
            var run = await CliRun.Run(args);
            Assert.True(run.ExitCode == 0, run.Error);
            Assert.StartsWith("blip2: 1 image", run.ErrorLines[^1]);
            Assert.Contains(" s", run.ErrorLines[^1]);
        }
    }

    [Fact]
    public async Task DashReadsOneImageFromStdin()
    {
        var bytes = File.ReadAllBytes(CliRun.Photo);
        var fromStdin = await CliRun.RunWithStdin(() => new MemoryStream(bytes), "caption", "-", "--max-new-tokens", "4", "--model", CliRun.TinyOpt);
        var fromFile = await CliRun.Run("caption", CliRun.Photo, "--max-new-tokens", "4", "--model", CliRun.TinyOpt);
        Assert.True(fromStdin.ExitCode == 0, fromStdin.Error);
        Assert.Equal("<stdin>\t" + fromFile.OutLines[0].Split('\t')[1], fromStdin.OutLines[0]);

        var match = await CliRun.RunWithStdin(() => new MemoryStream(bytes), "match", "-", "an astronaut", "--model", CliRun.TinyItm);
        Assert.True(match.ExitCode == 0, match.Error);
    }

    [Fact]
    public async Task DashTwiceIsAUsageError()
    {
        (await CliRun.RunWithStdin(() => new MemoryStream([1]), "caption", "-", "-", "--model", CliRun.TinyOpt)).AssertOneError(2);
    }

    [Fact]
    public async Task ThreadsSetsTorchsThreadCount()
    {
        var before = TorchSharp.torch.get_num_threads();
        try
        {
            var run = await CliRun.Run("caption", CliRun.Photo, "--max-new-tokens", "2", "--threads", "1", "--model", CliRun.TinyOpt);
            Assert.True(run.ExitCode == 0, run.Error);
            Assert.Equal(1, TorchSharp.torch.get_num_threads());
        }
        finally
        {
            TorchSharp.torch.set_num_threads(before);
        }
    }

    [Fact]
    public async Task ZeroThreadsIsAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--threads", "0")).AssertOneError(2);
        Assert.Contains("--threads", line);
    }

    [Fact]
    public async Task BadGenerationConfigIsAnInputErrorNotAUsageError()
    {
        using var temp = new TempFolder();
        var folder = temp.CopyOf(CliRun.TinyOpt);
        File.WriteAllText(Path.Combine(folder, "generation_config.json"), """{ "top_p": 5.0 }""");
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", folder)).AssertOneError(1);
        Assert.Contains("top_p", line);
    }

    [Fact]
    public async Task BadGenerationOptionOnTheCommandLineStaysAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--min-new-tokens", "9", "--max-new-tokens", "3", "--model", CliRun.TinyOpt)).AssertOneError(2);
        Assert.Contains("min_new_tokens", line);
    }
}
