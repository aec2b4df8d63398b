using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>The instruction sets the weight-only kernels are written for; <see cref="Scalar"/> is the reference.</summary>
public enum KernelIsa
{
    Scalar,
    Avx2,
    Avx512,
    AdvSimd,
}

public static class KernelIsas
{
    /// <summary>The fastest one this CPU has.</summary>
    public static KernelIsa Best { get; } =
        Avx512F.IsSupported && Avx512BW.IsSupported ? KernelIsa.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? KernelIsa.Avx2
        : AdvSimd.Arm64.IsSupported ? KernelIsa.AdvSimd
        : KernelIsa.Scalar;

    public static bool IsSupported(KernelIsa isa) => isa switch
    {
        KernelIsa.Scalar => true,
        KernelIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        KernelIsa.Avx512 => Avx512F.IsSupported && Avx512BW.IsSupported,
        KernelIsa.AdvSimd => AdvSimd.Arm64.IsSupported,
        _ => false,
    };

    /// <summary>Every instruction set this CPU runs, the reference first (tests check each against it).</summary>
    public static IReadOnlyList<KernelIsa> Available { get; } = Enum.GetValues<KernelIsa>().Where(IsSupported).ToList();
}
