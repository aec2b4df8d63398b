using System.Reflection;
using Blip2.Cli;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>One in-process run of the blip2 CLI: exit code and what it wrote.</summary>
internal sealed record CliRun(int ExitCode, string Out, string Error)
{
    public static string RepoRoot { get; } = typeof(CliRun).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "RepoRoot").Value!;

    /// <summary>The CLI's own build output (its apphost, and its libtorch kept aside in libtorch/, as the tool ships it).</summary>
    public static string CliOutput { get; } = typeof(CliRun).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "CliOutput").Value!;

    public static string Photo => Path.Combine(RepoRoot, "samples", "assets", "astronaut.png");

    /// <summary>The bundled checkpoints as the CLI finds them: copied next to it.</summary>
    public static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "checkpoints", name);

    public static string TinyOpt => Bundled("blip2-tiny-opt");
    public static string TinyItm => Bundled("blip2-tiny-itm");
    public static string TinyT5 => Bundled("blip2-tiny-t5");

    public static Task<CliRun> Run(params string[] args) => RunWithStdin(() => Stream.Null, args);

    /// <summary>A run whose stdin (the image argument <c>-</c>) is the given stream.</summary>
    public static async Task<CliRun> RunWithStdin(Func<Stream> stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await Cli.RunAsync(args, stdout, stderr, stdin);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A run that sees these environment variables (and no others): the Hugging Face cache's.</summary>
    public static async Task<CliRun> RunWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var context = new CliContext(stdout, stderr, () => Stream.Null, Interactive: false)
        {
            Environment = name => environment.GetValueOrDefault(name),
        };
        var code = await Cli.RunAsync(args, context);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    public string[] OutLines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>A user mistake: exactly one `blip2: error:` line on stderr, nothing on stdout, the exit code.</summary>
    public string AssertOneError(int exitCode)
    {
        Assert.True(ErrorLines.Length == 1, $"expected one line on stderr, got:\n{Error}");
        Assert.StartsWith("blip2: error: ", ErrorLines[0]);
        Assert.DoesNotContain("   at ", Error);
        Assert.Equal("", Out);
        Assert.Equal(exitCode, ExitCode);
        return ErrorLines[0];
    }

    /// <summary>A run that failed on its inputs: the `blip2: error:` lines on stderr (no stack trace), exit code 1.</summary>
    public string[] AssertInputErrors()
    {
        Assert.DoesNotContain("   at ", Error);
        Assert.True(ExitCode == 1, $"expected exit code 1, got {ExitCode}:\n{Error}");
        return [.. ErrorLines.Where(l => l.StartsWith("blip2: error: "))];
    }
}
