namespace Blip2Compiler.Tests.CommandLine;

/// <summary>Every documented user mistake: one `blip2: error:` line, exit 2 for the command line, 1 for inputs.</summary>
public class UserMistakeTests
{
    [Fact]
    public async Task NoCommandPrintsTheHelp()
    {
        var run = await CliRun.Run();
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("caption", run.Out);
        Assert.Contains("Usage:", run.Out);
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task UnknownOptionIsAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--bogus")).AssertOneError(2);
        Assert.Contains("--bogus", line);
    }

    [Fact]
    public async Task MissingArgumentIsAUsageError()
    {
        (await CliRun.Run("ask", CliRun.Photo)).AssertOneError(2);
    }

    [Theory]
    [InlineData("--beams", "abc")]
    [InlineData("--beams", "0")]
    [InlineData("--max-new-tokens", "-3")]
    [InlineData("--batch-size", "0")]
    [InlineData("--repetition-penalty", "0")]
    public async Task BadOptionValueIsAUsageError(string option, string value)
    {
        (await CliRun.Run("caption", CliRun.Photo, "--model", CliRun.TinyOpt, option, value)).AssertOneError(2);
    }

    [Fact]
    public async Task SamplingOptionsWithoutSampleAreAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--temperature", "0.7")).AssertOneError(2);
        Assert.Contains("--sample", line);
    }

    [Fact]
    public async Task TopPOutOfRangeNamesTheOption()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--sample", "--top-p", "1.5")).AssertOneError(2);
        Assert.Contains("top_p", line);
    }

    [Fact]
    public async Task UnknownDTypeIsAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--dtype", "int3")).AssertOneError(2);
        Assert.Contains("int3", line);
    }

    [Fact]
    public async Task UnknownDeviceIsAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", CliRun.TinyOpt, "--device", "tpu")).AssertOneError(2);
        Assert.Contains("tpu", line);
    }

    [Fact]
    public async Task MissingImageNamesIt()
    {
        var line = (await CliRun.Run("caption", "no-such-photo.png", "--model", CliRun.TinyOpt)).AssertOneError(1);
        Assert.Contains("no-such-photo.png", line);
    }

    [Fact]
    public async Task EmptyFolderNamesIt()
    {
        using var temp = new TempFolder();
        var line = (await CliRun.Run("caption", temp.Path)).AssertOneError(1);
        Assert.Contains(temp.Path, line);
    }

    [Fact]
    public async Task UnreadableImageNamesIt()
    {
        using var temp = new TempFolder();
        var broken = temp.File("broken.png", "this is not a PNG");
        var run = await CliRun.Run("caption", broken, "--model", CliRun.TinyOpt);
        var line = Assert.Single(run.AssertInputErrors());
        Assert.StartsWith($"blip2: error: {broken}: ", line);
        Assert.Equal("", run.Out);
        Assert.Contains("0 images", run.ErrorLines[^1]);
    }

    [Fact]
    public async Task MissingModelFolderNamesIt()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", "/no/such/checkpoint")).AssertOneError(1);
        Assert.Contains("/no/such/checkpoint", line);
    }

    [Fact]
    public async Task ModelFolderWithoutConfigSaysSo()
    {
        using var temp = new TempFolder();
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", temp.Path)).AssertOneError(1);
        Assert.Contains("config.json", line);
    }

    [Fact]
    public async Task MalformedConfigNamesTheFile()
    {
        using var temp = new TempFolder();
        temp.File("config.json", "{ \"architectures\": [ ");
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", temp.Path)).AssertOneError(1);
        Assert.Contains("config.json", line);
    }

    [Fact]
    public async Task UncompiledConfigListsWhatIsCompiledAndHowToCompileYourOwn()
    {
        using var temp = new TempFolder();
        var folder = temp.CopyOf(CliRun.TinyOpt);
        var config = Path.Combine(folder, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"num_query_tokens\": 6", "\"num_query_tokens\": 7"));
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", folder)).AssertOneError(1);
        Assert.Contains("blip2-opt-2.7b", line);
        Assert.Contains("blip2-tiny-opt", line);
        Assert.Contains("[Blip2Model(", line);
    }

    [Fact]
    public async Task MissingWeightsNameTheFolder()
    {
        using var temp = new TempFolder();
        var folder = temp.CopyOf(CliRun.TinyOpt);
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", folder)).AssertOneError(1);
        Assert.Contains(folder, line);
    }

    [Fact]
    public async Task CorruptWeightsNameTheFile()
    {
        using var temp = new TempFolder();
        var folder = temp.CopyOf(CliRun.TinyOpt);
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), [1, 2, 3]);
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", folder)).AssertOneError(1);
        Assert.Contains("model.safetensors", line);
    }

    [Fact]
    public async Task RetrievalCommandOnACaptioningModelIsAUsageError()
    {
        var line = (await CliRun.Run("match", CliRun.Photo, "an astronaut", "--model", CliRun.TinyOpt)).AssertOneError(2);
        Assert.Contains("retrieval", line);
    }

    [Fact]
    public async Task CaptioningCommandOnARetrievalModelIsAUsageError()
    {
        var line = (await CliRun.Run("ask", CliRun.Photo, "who is this?", "--model", CliRun.TinyItm)).AssertOneError(2);
        Assert.Contains("captioning", line);
    }

    [Fact]
    public async Task HelpIsNotAnError()
    {
        var run = await CliRun.Run("--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("caption", run.Out);
        Assert.Equal("", run.Error);
    }
}
