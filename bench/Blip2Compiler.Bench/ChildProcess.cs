using System.Diagnostics;

namespace Blip2Compiler.Bench;

/// <summary>
/// Starts this program again as a child process (a benchmark's measured worker), whether it runs as its own apphost
/// (<c>dotnet run</c>) or as <c>dotnet Blip2Compiler.Bench.dll</c>: then <see cref="Environment.ProcessPath"/> is
/// <c>dotnet</c>, and the child needs the assembly's path first or dotnet reads the subcommand as a file to run.
/// </summary>
public static class ChildProcess
{
    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return start;
    }
}
