using TorchSharp;

namespace Blip2Compiler.Tests.Devices;

/// <summary>Why a CUDA-only test cannot run here (null: it can): the libtorch this process loads sees no GPU.</summary>
internal static class CudaAvailability
{
    public static readonly Lazy<string?> SkipReason = new(() =>
    {
        TorchBackend.Initialize();
        return torch.cuda.is_available() ? null : "no CUDA device visible to this process's libtorch (the CPU checks of the same route run instead)";
    });
}

/// <summary>A test that needs a CUDA device: skipped, saying why, where libtorch sees none (CI's CPU machines).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (CudaAvailability.SkipReason.Value is { } reason) Skip = reason;
    }
}

/// <inheritdoc cref="CudaFactAttribute"/>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        if (CudaAvailability.SkipReason.Value is { } reason) Skip = reason;
    }
}
