using System.Runtime.InteropServices;

namespace Blip2Compiler.Bench;

/// <summary>
/// Reads the counts of bench/callcount's preloaded library (calls into TorchSharp's native library, by function):
/// present only when the bench runs under bench/callcount/run.sh, which sets CALLCOUNT_LIB.
/// </summary>
public sealed class CallCounter
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate long DumpFunction([MarshalAs(UnmanagedType.LPUTF8Str)] string path);

    private readonly DumpFunction _dump;

    private CallCounter(DumpFunction dump) => _dump = dump;

    /// <summary>The counter, or null (with the reason) when the library is not preloaded.</summary>
    public static CallCounter? Find(out string why)
    {
        why = "";
        var path = Environment.GetEnvironmentVariable("CALLCOUNT_LIB");
        if (string.IsNullOrEmpty(path)) { why = "CALLCOUNT_LIB is not set: run under bench/callcount/run.sh"; return null; }
        if (!NativeLibrary.TryLoad(path, out var handle) || !NativeLibrary.TryGetExport(handle, "callcount_dump", out var export))
        {
            why = $"{path} does not load or has no callcount_dump";
            return null;
        }
        return new CallCounter(Marshal.GetDelegateForFunctionPointer<DumpFunction>(export));
    }

    /// <summary>Calls so far, by native function name.</summary>
    public Dictionary<string, long> Snapshot()
    {
        var file = Path.GetTempFileName();
        try
        {
            if (_dump(file) < 0) throw new IOException($"callcount_dump could not write {file}");
            return File.ReadLines(file).Select(l => l.Split(' ', 2)).ToDictionary(p => p[1], p => long.Parse(p[0]));
        }
        finally { File.Delete(file); }
    }

    /// <summary>Calls made between two snapshots, by function (functions not called are left out).</summary>
    public static Dictionary<string, long> Between(Dictionary<string, long> before, Dictionary<string, long> after) =>
        after.Select(p => (p.Key, Calls: p.Value - before.GetValueOrDefault(p.Key))).Where(p => p.Calls > 0).ToDictionary(p => p.Key, p => p.Calls);
}
