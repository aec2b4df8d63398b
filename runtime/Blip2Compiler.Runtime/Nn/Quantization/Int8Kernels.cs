using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// Dot products of a float32 activation row with an int8 weight row (the scale is applied by the caller), one per
/// instruction set, each checked against <see cref="DotScalar"/> (<c>WeightOnlyKernelTests</c>). The weight bytes are
/// widened to float in registers: a row is read once, at a quarter of float32's bytes, which is what a memory-bound
/// batch-1 GEMV is paid by.
/// </summary>
public static unsafe class Int8Kernels
{
    public static float Dot(KernelIsa isa, float* x, sbyte* w, int k) => isa switch
    {
        KernelIsa.Avx2 => DotAvx2(x, w, k),
        KernelIsa.Avx512 => DotAvx512(x, w, k),
        KernelIsa.AdvSimd => DotAdvSimd(x, w, k),
        _ => DotScalar(x, w, k),
    };

    /// <summary>The reference: Σ x[i]·w[i] in order.</summary>
    public static float DotScalar(float* x, sbyte* w, int k)
    {
        float sum = 0;
        for (var i = 0; i < k; i++) sum += x[i] * w[i];
        return sum;
    }

    // Four accumulators over 32 weights per iteration: vpmovsxbd (load + sign-extend 8 bytes) → cvtdq2ps → FMA; the
    // four chains hide the FMA latency.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotAvx2(float* x, sbyte* w, int k)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var i = 0;
        for (; i + 32 <= k; i += 32)
        {
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + i)), Avx.LoadVector256(x + i), a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + i + 8)), Avx.LoadVector256(x + i + 8), a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + i + 16)), Avx.LoadVector256(x + i + 16), a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + i + 24)), Avx.LoadVector256(x + i + 24), a3);
        }
        for (; i + 8 <= k; i += 8)
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + i)), Avx.LoadVector256(x + i), a0);
        var sum = Vector256.Sum(Avx.Add(Avx.Add(a0, a1), Avx.Add(a2, a3)));
        for (; i < k; i++) sum += x[i] * w[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotAvx512(float* x, sbyte* w, int k)
    {
        Vector512<float> a0 = default, a1 = default;
        var i = 0;
        for (; i + 32 <= k; i += 32)
        {
            a0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(w + i))), Avx512F.LoadVector512(x + i), a0);
            a1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(w + i + 16))), Avx512F.LoadVector512(x + i + 16), a1);
        }
        for (; i + 16 <= k; i += 16)
            a0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(w + i))), Avx512F.LoadVector512(x + i), a0);
        var sum = Vector512.Sum(Avx512F.Add(a0, a1));
        for (; i < k; i++) sum += x[i] * w[i];
        return sum;
    }

    // 8 bytes → two int16x8 halves → four int32x4 → float32x4, two FMA chains.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotAdvSimd(float* x, sbyte* w, int k)
    {
        Vector128<float> a0 = default, a1 = default;
        var i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var wide = AdvSimd.SignExtendWideningLower(AdvSimd.LoadVector64(w + i));
            var lo = AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningLower(wide.GetLower()));
            var hi = AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningUpper(wide));
            a0 = AdvSimd.FusedMultiplyAdd(a0, lo, AdvSimd.LoadVector128(x + i));
            a1 = AdvSimd.FusedMultiplyAdd(a1, hi, AdvSimd.LoadVector128(x + i + 4));
        }
        var sum = Vector128.Sum(AdvSimd.Add(a0, a1));
        for (; i < k; i++) sum += x[i] * w[i];
        return sum;
    }

    /// <summary>w[i]·scale as float32 into <paramref name="output"/> (the prefill path's dequantized weight row).</summary>
    public static void Dequantize(sbyte* w, float scale, float* output, int k)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(scale);
            for (; i + 8 <= k; i += 8)
            {
                var bytes = Vector128.CreateScalarUnsafe(*(long*)(w + i)).AsSByte();
                var ints = Vector256.Create(Vector128.WidenLower(Vector128.WidenLower(bytes)), Vector128.WidenUpper(Vector128.WidenLower(bytes)));
                Vector256.Store(Vector256.ConvertToSingle(ints) * s, output + i);
            }
        }
        for (; i < k; i++) output[i] = w[i] * scale;
    }
}
