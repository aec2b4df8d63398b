using System.Diagnostics;
using System.Text.Json;
using Blip2Compiler.Tests.CommandLine;

namespace Blip2Compiler.Tests.Packaging;

/// <summary>
/// build/DevVersion.targets without git (a source archive): the version still changes from one pack to the next
/// (0.2.0-dev.0.&lt;time&gt;), below every git build's dev.&lt;height&gt;. (With git, PackageTests packs and checks
/// 0.2.0-dev.&lt;commit height&gt;.)
/// </summary>
public class DevVersionTests
{
    [Fact]
    [Trait("Category", "Package")]
    public async Task WithoutGitTheVersionCarriesTheTime()
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = CliRun.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "msbuild", "runtime/Blip2Compiler.Runtime/Blip2Compiler.Runtime.csproj", "-t:Blip2PackVersion",
                     "-getProperty:Version", "-getProperty:PackageVersion", "-nologo" })
            start.ArgumentList.Add(a);
        start.Environment["GIT_DIR"] = Path.Combine(Path.GetTempPath(), "blip2-no-git-" + Guid.NewGuid().ToString("N"));
        foreach (var name in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH" }) start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"msbuild failed ({process.ExitCode}):\n{output}{await stderr}");
        var properties = JsonDocument.Parse(output).RootElement.GetProperty("Properties");
        var before = DateTime.UtcNow.AddMinutes(-10).ToString("yyyyMMddHHmmss");
        foreach (var name in new[] { "Version", "PackageVersion" })
        {
            var version = properties.GetProperty(name).GetString()!;
            Assert.Matches(@"^0\.2\.0-dev\.0\.[0-9]{14}$", version);
            Assert.True(string.CompareOrdinal(version["0.2.0-dev.0.".Length..], before) > 0, $"{name} {version} is not the time of the build");
        }
    }
}
