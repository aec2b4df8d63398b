namespace Blip2Compiler.Tests.CommandLine;

/// <summary>
/// A prompt plus new tokens past the language model's positions is one usage error, never a native crash (issue 12,
/// item 1). The tiny OPT has 128 positions; its prompt takes 6 image tokens + BOS = 7.
/// </summary>
public class PromptLengthTests
{
    [Fact]
    public async Task TooManyNewTokensIsOneUsageErrorNamingTheNumbers()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--max-new-tokens", "200", "--model", CliRun.TinyOpt)).AssertOneError(2);
        Assert.Contains("7 positions", line);
        Assert.Contains("200 new tokens", line);
        Assert.Contains("128 positions", line);
    }

    [Fact]
    public async Task TheLongestRunThatFitsIsAccepted()
    {
        // 7 + 122 − 1 = 128: the last new token is never fed back.
        var run = await CliRun.Run("caption", CliRun.Photo, "--max-new-tokens", "122", "--min-new-tokens", "122", "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
        (await CliRun.Run("caption", CliRun.Photo, "--max-new-tokens", "123", "--model", CliRun.TinyOpt)).AssertOneError(2);
    }

    [Fact]
    public async Task ALongQuestionAtTheDefaultOptionsIsOneUsageError()
    {
        var question = string.Join(' ', Enumerable.Repeat("why is the astronaut holding the flag so high above the moon", 6));
        var line = (await CliRun.Run("ask", CliRun.Photo, question, "--model", CliRun.TinyOpt)).AssertOneError(2);
        Assert.Contains("128 positions", line);
    }
}
