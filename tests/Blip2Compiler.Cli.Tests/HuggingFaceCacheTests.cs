using System.Security.Cryptography;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>
/// --model takes a Hugging Face model id, found in a cache laid out as huggingface_hub lays it out (issue 12, item 7):
/// <c>models--Org--Name/refs/main</c> holds a commit, <c>snapshots/&lt;commit&gt;/</c> links each file into <c>blobs/</c>.
/// </summary>
public class HuggingFaceCacheTests
{
    private const string Commit = "3f4b2a1c0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b";

    /// <summary>The tiny OPT checkpoint cached as <paramref name="modelId"/> under <paramref name="hub"/>.</summary>
    private static void Cache(string hub, string modelId)
    {
        var repo = Path.Combine(hub, "models--" + modelId.Replace("/", "--"));
        var snapshot = Path.Combine(repo, "snapshots", Commit);
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        Directory.CreateDirectory(snapshot);
        File.WriteAllText(Path.Combine(repo, "refs", "main"), Commit);
        foreach (var file in Directory.GetFiles(CliRun.TinyOpt))
        {
            using var stream = File.OpenRead(file);
            var blob = Convert.ToHexStringLower(SHA256.HashData(stream));
            File.Copy(file, Path.Combine(repo, "blobs", blob));
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", blob));
        }
    }

    [Fact]
    public async Task AModelIdIsFoundUnderHfHubCache()
    {
        using var temp = new TempFolder();
        Cache(temp.Path, "Org/tiny-opt");
        var run = await CliRun.RunWithEnvironment(new Dictionary<string, string> { ["HF_HUB_CACHE"] = temp.Path },
            "caption", CliRun.Photo, "--max-new-tokens", "3", "--model", "Org/tiny-opt");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Single(run.OutLines);
        Assert.DoesNotContain("RANDOM WEIGHTS", run.Error);
    }

    [Theory]
    [InlineData("HF_HOME", "hub")]
    [InlineData("XDG_CACHE_HOME", "huggingface/hub")]
    [InlineData("HOME", ".cache/huggingface/hub")]
    public async Task TheCacheFolderFollowsHuggingFaceHubsVariables(string variable, string under)
    {
        using var temp = new TempFolder();
        Cache(Path.Combine(temp.Path, under), "Org/tiny-opt");
        var run = await CliRun.RunWithEnvironment(new Dictionary<string, string> { [variable] = temp.Path },
            "caption", CliRun.Photo, "--max-new-tokens", "3", "--model", "Org/tiny-opt");
        Assert.True(run.ExitCode == 0, run.Error);
    }

    [Fact]
    public async Task AnUncachedModelIdSaysHowToDownloadIt()
    {
        using var temp = new TempFolder();
        var line = (await CliRun.RunWithEnvironment(new Dictionary<string, string> { ["HF_HUB_CACHE"] = temp.Path },
            "caption", CliRun.Photo, "--model", "Salesforce/blip2-opt-2.7b")).AssertOneError(1);
        Assert.Contains("huggingface-cli download Salesforce/blip2-opt-2.7b", line);
        Assert.Contains(temp.Path, line);
    }

    [Fact]
    public async Task ABrokenRefIsNamed()
    {
        using var temp = new TempFolder();
        Cache(temp.Path, "Org/tiny-opt");
        File.WriteAllText(Path.Combine(temp.Path, "models--Org--tiny-opt", "refs", "main"), "0000000000000000000000000000000000000000");
        var line = (await CliRun.RunWithEnvironment(new Dictionary<string, string> { ["HF_HUB_CACHE"] = temp.Path },
            "caption", CliRun.Photo, "--model", "Org/tiny-opt")).AssertOneError(1);
        Assert.Contains("refs/main names commit '0000000000000000000000000000000000000000'", line);
    }

    [Fact]
    public async Task AFileGivenAsTheModelIsCalledAFile()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--model", Path.Combine(CliRun.TinyOpt, "config.json"))).AssertOneError(1);
        Assert.Contains("is a file, not a checkpoint folder", line);
        Assert.Contains($"('{CliRun.TinyOpt}')", line);
    }
}
