using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>
/// The blip2 tool ships a CPU libtorch but runs on the one it is pointed at (--libtorch, BLIP2_LIBTORCH) without a
/// rebuild, and never holds two: the CLI process is run with glibc's loader trace (LD_DEBUG=files), which names every
/// shared library the process initializes, by path. Pointed at a copy of the CPU libtorch in another folder (a copy,
/// not a link: the loader would merge two names of one file and hide a double load), only that copy may appear.
/// </summary>
public class LibTorchChoiceTests
{
    private static readonly string CliOutput = CliRun.CliOutput;

    private static readonly string[] Libraries = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    [Fact]
    public async Task ByDefaultTheToolLoadsItsOwnLibTorchFromItsLibTorchFolder()
    {
        if (!OperatingSystem.IsLinux()) return; // LD_DEBUG is glibc's
        var (code, stdout, loaded) = await Caption(libtorch: null);
        Assert.True(code == 0, $"exit {code}");
        Assert.Contains("astronaut.png\t", stdout);
        foreach (var library in Libraries)
        {
            var path = Assert.Single(loaded, p => Path.GetFileName(p) == library);
            Assert.StartsWith(Path.Combine(CliOutput, "libtorch") + Path.DirectorySeparatorChar, path);
        }
    }

    [Fact]
    public async Task PointedAtAnotherLibTorchTheToolLoadsOnlyThatOne()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempFolder();
        var own = Directory.GetFiles(Path.Combine(CliOutput, "libtorch"), "libtorch_cpu.so", SearchOption.AllDirectories).Single();
        var copy = Path.Combine(temp.Path, "torch", "lib");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(own)!).Where(f => Libraries.Contains(Path.GetFileName(f)) || Path.GetFileName(f).StartsWith("libgomp")))
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));

        var (code, stdout, loaded) = await Caption(libtorch: copy);
        Assert.True(code == 0, $"exit {code}");
        Assert.Contains("astronaut.png\t", stdout);
        foreach (var library in Libraries)
            Assert.Equal(Path.Combine(copy, library), Assert.Single(loaded, p => Path.GetFileName(p) == library));
        Assert.DoesNotContain(loaded, p => p.StartsWith(Path.Combine(CliOutput, "libtorch"), StringComparison.Ordinal));
    }

    /// <summary>Runs <c>blip2 caption</c> on the bundled photo; returns the exit code, stdout and the libraries initialized.</summary>
    private static async Task<(int Code, string Out, List<string> Loaded)> Caption(string? libtorch)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = CliOutput };
        string[] args = [Path.Combine(CliOutput, "Blip2.Cli.dll"), "caption", CliRun.Photo, .. libtorch is null ? [] : new[] { "--libtorch", libtorch }];
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["LD_DEBUG"] = "files";
        start.Environment.Remove(TorchBackend.EnvironmentVariable);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        var loaded = Regex.Matches(await stderr, @"calling init: (\S+)").Select(m => m.Groups[1].Value).ToList();
        return (process.ExitCode, await stdout, loaded);
    }
}
