using System.Diagnostics;
using System.IO.Compression;
using Blip2Compiler.Tests.CommandLine;

namespace Blip2Compiler.Tests.Packaging;

/// <summary>
/// The NuGet package works from outside the repository: pack the runtime (with the generator and the build
/// targets), build samples/Consumer against it with a fresh package folder, run it.
/// </summary>
public class PackageTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(10);

    [Fact]
    [Trait("Category", "Package")]
    public async Task PackedPackageCompilesAndRunsAConsumer()
    {
        using var temp = new TempFolder();
        var feed = Path.Combine(temp.Path, "feed");
        // A version of its own, so no package restored earlier (from any cache) can stand in for this one.
        var version = "0.1.0-test" + DateTime.UtcNow.ToString("yyyyMMddHHmmss");
        await Dotnet(CliRun.RepoRoot, "pack", "runtime/Blip2Compiler.Runtime", "-c", "Release", "-o", feed, $"-p:Version={version}");

        var package = Assert.Single(Directory.GetFiles(feed, "*.nupkg"));
        Assert.Equal($"Blip2Compiler.{version}.nupkg", Path.GetFileName(package));
        using (var zip = ZipFile.OpenRead(package))
        {
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("lib/net10.0/Blip2Compiler.dll", entries);
            Assert.Contains("analyzers/dotnet/cs/Blip2Compiler.Generator.dll", entries);
            Assert.Contains("buildTransitive/Blip2Compiler.targets", entries);
            using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")).Open());
            var manifest = nuspec.ReadToEnd();
            Assert.Contains("id=\"TorchSharp\"", manifest);
            Assert.Contains("id=\"SixLabors.ImageSharp\"", manifest);
        }

        // The consumer, copied out of the repository, with a nuget.config naming the fresh feed; packages restored
        // into a folder of their own (the machine's cache only as a read-only fallback for the big dependencies).
        var consumer = Path.Combine(temp.Path, "consumer");
        Directory.CreateDirectory(consumer);
        foreach (var file in Directory.GetFiles(Path.Combine(CliRun.RepoRoot, "samples", "Consumer")))
            File.Copy(file, Path.Combine(consumer, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(consumer, "nuget.config"),
            $"""<?xml version="1.0" encoding="utf-8"?><configuration><packageSources><add key="feed" value="{feed}" /></packageSources></configuration>""");
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        await Dotnet(consumer, "build", "-c", "Release", $"-p:Blip2CompilerVersion={version}",
            $"-p:RestorePackagesPath={Path.Combine(temp.Path, "packages")}", $"-p:RestoreFallbackFolders={globalPackages}");

        var checkpoint = Path.Combine(CliRun.RepoRoot, "tests", "fixtures", "golden", "blip2-opt", "model");
        var output = await Dotnet(consumer, "run", "-c", "Release", "--no-build", "--", checkpoint);
        Assert.Contains("logits shape: [2, 10, 120]", output);
    }

    private static async Task<string> Dotnet(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // Keep the test host's MSBuild settings out of the child builds.
        foreach (var name in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH" }) start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} took longer than {Patience}");
        }
        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed ({process.ExitCode}):\n{output}");
        return output;
    }
}
