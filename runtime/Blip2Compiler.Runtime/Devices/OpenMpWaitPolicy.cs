using System.Runtime.InteropServices;

namespace Blip2Compiler;

/// <summary>
/// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> for the OpenMP runtime libtorch brings (libgomp in the CPU package), unless the
/// user set it, for processes that decode batches (a server, a dataset job). It must be in the native environment
/// before that runtime loads, since libgomp reads it once, at load: call it before the first model is loaded or
/// created (later it has no effect).
/// </summary>
/// <remarks>
/// Why: after each parallel region libgomp's idle workers spin (active waiting, GOMP_SPINCOUNT) on the cores the next
/// operation wants. A batched decoding step alternates libtorch's OpenMP ops (layer norms, attention over rows × heads)
/// with <see cref="Nn.SkinnyGemm"/>, which splits its rows over .NET's thread pool, so on a 2-core machine the spinning
/// workers took the cores from the GEMM. Measured on the quiet 2-core VM, one run each, `engine-step --config mid
/// --threads 2` (bench/RESULTS.md): the batch-8 step took 103.1 ms with libgomp's default and 66.1 ms passive (batch-1
/// step 49.5 and 50.6 ms, batch 8 / batch 1 2.08 → 1.31); `caption-batch` (8 images) 1.58 and 1.52 captions/s against
/// 2.03 and 2.36 passive. A lone batch-1 caption, where one row's GEMVs run in libtorch's own OpenMP regions, is a little
/// slower passive (5 runs each: median 1852 ms default, 1956 ms passive), so this is not the library's default: the
/// server (`blip2 serve`), `blip2 job` and the engine benchmarks call it. .NET's <c>Environment.SetEnvironmentVariable</c> only
/// changes the managed copy on Unix, so this calls libc's <c>setenv</c> there.
/// </remarks>
public static partial class OpenMpWaitPolicy
{
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>Sets the policy to passive if nothing set it; false when the user's own value was kept.</summary>
    public static bool ApplyPassiveDefault()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))) return false;
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(Variable, "PASSIVE");
        else if (SetEnv(Variable, "PASSIVE", 1) != 0) return false;   // unset or empty (checked above)
        return true;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
