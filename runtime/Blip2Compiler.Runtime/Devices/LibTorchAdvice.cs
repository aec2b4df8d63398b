namespace Blip2Compiler;

/// <summary>
/// What to tell a user who needs another libtorch, in terms that apply to how the application was built: the runtime
/// switch (<c>--libtorch</c> / <c>BLIP2_LIBTORCH</c>) where a packaged libtorch is kept aside, a build property only
/// in programs built in the repository, package references everywhere else (TorchSharp's own convention).
/// </summary>
internal static class LibTorchAdvice
{
    private const string Switch = "--libtorch / " + TorchBackend.EnvironmentVariable + " / Blip2LoadOptions.LibTorchPath";
    private const string CudaFolder = "a CUDA libtorch lib folder (e.g. a Python install's site-packages/torch/lib, torch 2.10 or 2.11)";
    private const string CudaPackages = "TorchSharp-cuda-linux or TorchSharp-cuda-windows";
    private const string CpuPackages = "libtorch-cpu-linux-x64, -osx-arm64, -win-x64 or -win-arm64";

    /// <summary>Why <c>--device cuda</c> cannot run, and how to get a CUDA libtorch.</summary>
    public static string NoCuda(LibTorchLayout layout, string? externalFolder)
    {
        if (externalFolder is not null)
            return $"the libtorch loaded from '{externalFolder}' has no usable CUDA (a CPU-only build, or no NVIDIA GPU and driver on this machine)";
        const string lead = "this process has no usable CUDA libtorch";
        if (layout.Aside)
            return $"{lead}: point {Switch} at {CudaFolder}, on a machine with an NVIDIA driver";
        if (layout.InRepository)
            return $"{lead}. Build with -p:Blip2Backend=cuda ({CudaPackages}), or build with -p:Blip2Backend=none and point " +
                $"{Switch} at {CudaFolder}, on a machine with an NVIDIA driver";
        return $"{lead}: reference {CudaPackages} instead of a CPU libtorch package, or point {Switch} at {CudaFolder} " +
            "(with no libtorch package in the application, or with <Blip2LibTorchAside>true</Blip2LibTorchAside>), on a machine with an NVIDIA driver";
    }

    /// <summary>Why an external folder is refused in an application whose own libtorch .NET would load too.</summary>
    public static string SecondCopy(LibTorchLayout layout, string shipped)
    {
        var lead = $"this application ships its own libtorch ({shipped}) where .NET loads it, and a process cannot hold two";
        return layout.InRepository
            ? $"{lead}; build it with -p:Blip2Backend=none to use an external libtorch"
            : $"{lead}; remove its libtorch package reference ({CpuPackages}, TorchSharp-cpu, TorchSharp-cuda-*), or set " +
              "<Blip2LibTorchAside>true</Blip2LibTorchAside> so the packaged libtorch is loaded only when no other is named";
    }

    /// <summary>What an application that found no libtorch at all needs.</summary>
    public static string Missing(LibTorchLayout layout)
    {
        var versions = string.Join(" or ", TorchBackend.CompatibleLibTorchVersions.Select(v => v + ".x"));
        var external = $"an external libtorch must be version {versions}";
        if (layout.Aside)
            return $"{external}; without {Switch} the application's own libtorch (its {layout.AsideFolder} folder) is used";
        return layout.InRepository
            ? $"{external}; without one, the program needs a libtorch package: -p:Blip2Backend=cpu or cuda, or {Switch}"
            : $"{external}; without one, the application needs a libtorch package ({CpuPackages}, or {CudaPackages}), or {Switch}";
    }
}
