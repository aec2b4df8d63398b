namespace Blip2Compiler.Processing;

/// <summary>
/// PIL's resampling kernels (libImaging/Resample.c), written term for term in double precision so the coefficient
/// tables come out bit-identical.
/// </summary>
internal readonly record struct PilFilter(Func<double, double> Kernel, double Support)
{
    public static PilFilter For(PilResample resample, ProcessingBackend backend) => (resample, backend) switch
    {
        (PilResample.Bicubic, ProcessingBackend.Torchvision) => new(TorchBicubicKernel, 2.0),
        _ => For(resample),
    };

    public static PilFilter For(PilResample resample) => resample switch
    {
        PilResample.Box => new(BoxKernel, 0.5),
        PilResample.Bilinear => new(BilinearKernel, 1.0),
        PilResample.Hamming => new(HammingKernel, 1.0),
        PilResample.Bicubic => new(BicubicKernel, 2.0),
        PilResample.Lanczos => new(LanczosKernel, 3.0),
        _ => throw new ArgumentOutOfRangeException(nameof(resample), resample, "PIL resampling filter not supported (nearest has no kernel)"),
    };

    private static double BoxKernel(double x) => x > -0.5 && x <= 0.5 ? 1.0 : 0.0;

    private static double BilinearKernel(double x)
    {
        if (x < 0.0) x = -x;
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static double HammingKernel(double x)
    {
        if (x < 0.0) x = -x;
        if (x == 0.0) return 1.0;
        if (x >= 1.0) return 0.0;
        x *= Math.PI;
        // PIL writes these constants as C floats, promoted to double.
        return Math.Sin(x) / x * ((double)0.54f + (double)0.46f * Math.Cos(x));
    }

    /// <summary>Keys' cubic convolution with a = -0.5.</summary>
    private static double BicubicKernel(double x)
    {
        const double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>The same cubic in ATen's evaluation order (cubic_convolution1/2), which rounds differently.</summary>
    private static double TorchBicubicKernel(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2.0) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        return 0.0;
    }

    private static double Sinc(double x)
    {
        if (x == 0.0) return 1.0;
        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    private static double LanczosKernel(double x) => -3.0 <= x && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0;
}
