namespace Blip2Compiler.Bench;

/// <summary>This process's resident memory from /proc/self/status (Linux), in bytes.</summary>
public static class ProcessMemory
{
    /// <summary>The resident set now (VmRSS).</summary>
    public static long Current() => Field("VmRSS:");

    /// <summary>The peak resident set of the process so far (VmHWM).</summary>
    public static long Peak() => Field("VmHWM:");

    private static long Field(string name)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(name, StringComparison.Ordinal));
        return long.Parse(line[name.Length..].Trim().Split(' ')[0]) * 1024;
    }
}
