using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Blip2Compiler.Tests.CommandLine;

namespace Blip2Compiler.Tests.Packaging;

/// <summary>
/// The NuGet package works from outside the repository: pack the runtime (with the generator and the build
/// targets), build samples/Consumer against it as it stands (its floating version, its own libtorch package) with a
/// package folder that already holds an older Blip2Compiler, run it.
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
        // The version the repository's build gives (build/DevVersion.targets): 0.2.0-dev.<commit height>, plus the
        // time when the tree has uncommitted changes.
        var pack = await Dotnet(CliRun.RepoRoot, "pack", "runtime/Blip2Compiler.Runtime", "-c", "Release", "-o", feed);
        var height = (await Git("rev-list", "--count", "HEAD")).Trim();
        var package = Assert.Single(Directory.GetFiles(feed, "*.nupkg"));
        var match = Regex.Match(Path.GetFileName(package), $@"^Blip2Compiler\.(0\.2\.0-dev\.{height}(\.[0-9]{{14}})?)\.nupkg$");
        Assert.True(match.Success, $"{Path.GetFileName(package)} is not 0.2.0-dev.{height}[.<time>]");
        var version = match.Groups[1].Value;
        Assert.Contains($"Blip2Compiler.{version}.nupkg", pack); // what pack prints is what to pin
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
            // TorchSharp's convention: the application picks its native libtorch (CPU, CUDA, or its own folder).
            Assert.DoesNotContain("libtorch", manifest, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("TorchSharp-cuda", manifest, StringComparison.OrdinalIgnoreCase);
        }

        // The consumer, copied out of the repository, with a nuget.config naming a feed; packages restored into a
        // folder of their own (the machine's cache only as a read-only fallback for the big dependencies).
        var consumer = Path.Combine(temp.Path, "consumer");
        Directory.CreateDirectory(consumer);
        foreach (var file in Directory.GetFiles(Path.Combine(CliRun.RepoRoot, "samples", "Consumer")))
            File.Copy(file, Path.Combine(consumer, Path.GetFileName(file)));
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var packages = Path.Combine(temp.Path, "packages");
        string[] restoreFolders = [$"-p:RestorePackagesPath={packages}", $"-p:RestoreFallbackFolders={globalPackages}"];

        // An earlier pack, restored before: it is in the package folder, the way a stale 0.1.0 sat in the NuGet cache
        // and won over every new pack of the same version.
        var staleFeed = Path.Combine(temp.Path, "stale-feed");
        var stale = StalePackage(package, staleFeed, "0.2.0-dev.1");
        UseFeed(consumer, staleFeed);
        await Dotnet(consumer, ["restore", .. restoreFolders]);
        Assert.True(Directory.Exists(Path.Combine(packages, "blip2compiler", stale)), "the stale package was not restored");

        UseFeed(consumer, feed);
        await Dotnet(consumer, ["build", "-c", "Release", .. restoreFolders]);
        var assets = File.ReadAllText(Path.Combine(consumer, "obj", "project.assets.json"));
        Assert.Contains($"\"Blip2Compiler/{version}\"", assets);
        Assert.DoesNotContain($"\"Blip2Compiler/{stale}\"", assets);
        // Build advice about -p:Blip2Backend belongs to the repository's programs only (LibTorchAdvice).
        var runtimeConfig = File.ReadAllText(Path.Combine(consumer, "bin", "Release", "net10.0", "Consumer.runtimeconfig.json"));
        Assert.DoesNotContain("Blip2Compiler.RepositoryBackend", runtimeConfig);

        var checkpoint = Path.Combine(CliRun.RepoRoot, "tests", "fixtures", "golden", "blip2-opt", "model");
        var output = await Dotnet(consumer, "run", "-c", "Release", "--no-build", "--", checkpoint);
        Assert.Contains("logits shape: [2, 10, 120]", output);
    }

    private static void UseFeed(string consumer, string feed) =>
        File.WriteAllText(Path.Combine(consumer, "nuget.config"),
            $"""<?xml version="1.0" encoding="utf-8"?><configuration><packageSources><clear /><add key="feed" value="{feed}" /></packageSources></configuration>""");

    /// <summary>A copy of <paramref name="package"/> that says it is an older <paramref name="version"/>, alone in <paramref name="feed"/>.</summary>
    private static string StalePackage(string package, string feed, string version)
    {
        Directory.CreateDirectory(feed);
        var copy = Path.Combine(feed, $"Blip2Compiler.{version}.nupkg");
        File.Copy(package, copy);
        using var zip = ZipFile.Open(copy, ZipArchiveMode.Update);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec"));
        string manifest;
        using (var reader = new StreamReader(entry.Open())) manifest = reader.ReadToEnd();
        entry.Delete();
        using var writer = new StreamWriter(zip.CreateEntry("Blip2Compiler.nuspec").Open());
        writer.Write(Regex.Replace(manifest, "<version>[^<]*</version>", $"<version>{version}</version>"));
        return version;
    }

    private static Task<string> Git(params string[] args) => Run("git", CliRun.RepoRoot, args);

    private static Task<string> Dotnet(string workingDirectory, params string[] args) => Run("dotnet", workingDirectory, args);

    private static async Task<string> Run(string program, string workingDirectory, string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
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
            Assert.Fail($"{program} {string.Join(' ', args)} took longer than {Patience}");
        }
        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} failed ({process.ExitCode}):\n{output}");
        return output;
    }
}
