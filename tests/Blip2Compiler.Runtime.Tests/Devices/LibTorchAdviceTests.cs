namespace Blip2Compiler.Tests.Devices;

/// <summary>
/// Advice about getting another libtorch names a build property (-p:Blip2Backend) only in programs built in this
/// repository, where it applies; a package user is told which package to reference, the blip2 tool (libtorch kept
/// aside) which folder to point it at.
/// </summary>
public class LibTorchAdviceTests
{
    private static readonly LibTorchLayout Repository = new(null, "cpu");
    private static readonly LibTorchLayout Package = new(null, null);
    private static readonly LibTorchLayout Tool = new("libtorch", null);

    [Fact]
    public void CudaAdvice()
    {
        Assert.Contains("-p:Blip2Backend=cuda", LibTorchAdvice.NoCuda(Repository, null));
        var package = LibTorchAdvice.NoCuda(Package, null);
        Assert.DoesNotContain("Blip2Backend", package);
        Assert.Contains("TorchSharp-cuda-linux", package);
        Assert.Contains("BLIP2_LIBTORCH", package);
        var tool = LibTorchAdvice.NoCuda(Tool, null);
        Assert.DoesNotContain("Blip2Backend", tool);
        Assert.DoesNotContain("TorchSharp-cuda", tool);
        Assert.Contains("--libtorch", tool);
        Assert.Contains("'/opt/torch/lib' has no usable CUDA", LibTorchAdvice.NoCuda(Package, "/opt/torch/lib"));
    }

    [Fact]
    public void SecondCopyAdvice()
    {
        Assert.Contains("-p:Blip2Backend=none", LibTorchAdvice.SecondCopy(Repository, "/app/libtorch_cpu.so"));
        var package = LibTorchAdvice.SecondCopy(Package, "/app/libtorch_cpu.so");
        Assert.DoesNotContain("Blip2Backend", package);
        Assert.Contains("/app/libtorch_cpu.so", package);
        Assert.Contains("<Blip2LibTorchAside>true</Blip2LibTorchAside>", package);
    }

    [Fact]
    public void MissingLibTorchAdvice()
    {
        Assert.Contains("-p:Blip2Backend=cpu", LibTorchAdvice.Missing(Repository));
        var package = LibTorchAdvice.Missing(Package);
        Assert.DoesNotContain("Blip2Backend", package);
        Assert.Contains("libtorch-cpu-linux-x64", package);
        Assert.Contains("2.10.x or 2.11.x", package);
        var tool = LibTorchAdvice.Missing(Tool);
        Assert.DoesNotContain("Blip2Backend", tool);
        Assert.Contains("libtorch folder", tool);
    }
}
