using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// Dot products of a float32 activation row with a 4-bit weight row, one per instruction set, each checked against
/// <see cref="DotScalar"/>. A row is <c>k / 32</c> blocks of 16 bytes; byte j of a block holds element j in its low
/// nibble and element j + 16 in its high one, as q + 8 (llama.cpp's Q4_0 order: two masks and a shift unpack 32
/// weights). Each group of <c>group</c> elements (a multiple of 32) has one scale. The −8 offset is not subtracted per
/// weight: Σ x·(u − 8) = Σ x·u − 8·Σ x, and the per-group Σ x is computed once per
/// activation row, not once per weight row.
/// </summary>
public static unsafe class Int4Kernels
{
    public const int Block = 32;

    public static float Dot(KernelIsa isa, float* x, byte* w, float* scales, float* groupSums, int k, int group) => isa switch
    {
        KernelIsa.Avx2 => DotAvx2(x, w, scales, groupSums, k, group),
        KernelIsa.Avx512 => DotAvx512(x, w, scales, groupSums, k, group),
        KernelIsa.AdvSimd => DotAdvSimd(x, w, scales, groupSums, k, group),
        _ => DotScalar(x, w, scales, k, group),
    };

    /// <summary>The reference: Σ x[i]·(q[i]·scale[i / group]) with q unpacked one nibble at a time.</summary>
    public static float DotScalar(float* x, byte* w, float* scales, int k, int group)
    {
        float sum = 0;
        for (var i = 0; i < k; i++) sum += x[i] * (Nibble(w, i) - 8) * scales[i / group];
        return sum;
    }

    /// <summary>The stored nibble (q + 8) of element <paramref name="i"/> of a row.</summary>
    public static int Nibble(byte* row, int i) => Nibble(new ReadOnlySpan<byte>(row, i / Block * (Block / 2) + Block / 2), i);

    /// <inheritdoc cref="Nibble(byte*, int)"/>
    public static int Nibble(ReadOnlySpan<byte> row, int i)
    {
        var b = row[i / Block * (Block / 2) + i % (Block / 2)];
        return i % Block < Block / 2 ? b & 0x0F : b >> 4;
    }

    /// <summary>Σ x per group of one activation row, for <see cref="Dot"/>.</summary>
    public static void GroupSums(float* x, int k, int group, float* sums)
    {
        for (var g = 0; g < k / group; g++)
        {
            float s = 0;
            for (var i = g * group; i < (g + 1) * group; i++) s += x[i];
            sums[g] = s;
        }
    }

    private static float Offset(float* scales, float* groupSums, int groups)
    {
        float offset = 0;
        for (var g = 0; g < groups; g++) offset += scales[g] * groupSums[g];
        return 8 * offset;
    }

    // Per 32 weights: one 16-byte load, and/shift/and into the two nibble halves, four vpmovzxbd + cvtdq2ps, four FMAs
    // into two chains; the group's sum is folded into the total by one FMA with its broadcast scale.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotAvx2(float* x, byte* w, float* scales, float* groupSums, int k, int group)
    {
        var mask = Vector128.Create((byte)0x0F);
        Vector256<float> total = default;
        for (var g = 0; g < k / group; g++)
        {
            Vector256<float> a0 = default, a1 = default;
            for (var i = g * group; i < (g + 1) * group; i += Block)
            {
                var bytes = Sse2.LoadVector128(w + i / 2);
                var lo = Sse2.And(bytes, mask);
                var hi = Sse2.And(Sse2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte(), mask);
                a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(lo)), Avx.LoadVector256(x + i), a0);
                a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(lo, 8))), Avx.LoadVector256(x + i + 8), a1);
                a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(hi)), Avx.LoadVector256(x + i + 16), a0);
                a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(hi, 8))), Avx.LoadVector256(x + i + 24), a1);
            }
            total = Fma.MultiplyAdd(Avx.Add(a0, a1), Vector256.Create(scales[g]), total);
        }
        return Vector256.Sum(total) - Offset(scales, groupSums, k / group);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotAvx512(float* x, byte* w, float* scales, float* groupSums, int k, int group)
    {
        var mask = Vector128.Create((byte)0x0F);
        Vector512<float> total = default;
        for (var g = 0; g < k / group; g++)
        {
            Vector512<float> a0 = default, a1 = default;
            for (var i = g * group; i < (g + 1) * group; i += Block)
            {
                var bytes = Sse2.LoadVector128(w + i / 2);
                var lo = Sse2.And(bytes, mask);
                var hi = Sse2.And(Sse2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte(), mask);
                a0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(lo)), Avx512F.LoadVector512(x + i), a0);
                a1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(hi)), Avx512F.LoadVector512(x + i + 16), a1);
            }
            total = Avx512F.FusedMultiplyAdd(Avx512F.Add(a0, a1), Vector512.Create(scales[g]), total);
        }
        return Vector512.Sum(total) - Offset(scales, groupSums, k / group);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotAdvSimd(float* x, byte* w, float* scales, float* groupSums, int k, int group)
    {
        var mask = Vector128.Create((byte)0x0F);
        Vector128<float> total = default;
        for (var g = 0; g < k / group; g++)
        {
            Vector128<float> a0 = default, a1 = default;
            for (var i = g * group; i < (g + 1) * group; i += Block)
            {
                var bytes = AdvSimd.LoadVector128(w + i / 2);
                var lo = AdvSimd.And(bytes, mask);
                var hi = AdvSimd.ShiftRightLogical(bytes, 4);
                a0 = Accumulate16(a0, lo, x + i);
                a1 = Accumulate16(a1, hi, x + i + 16);
            }
            total = AdvSimd.FusedMultiplyAdd(total, AdvSimd.Add(a0, a1), Vector128.Create(scales[g]));
        }
        return Vector128.Sum(total) - Offset(scales, groupSums, k / group);
    }

    // 16 nibble values (one per byte) times x[0..16]: widen u8 → u16 → u32 → float in four quarters.
    private static Vector128<float> Accumulate16(Vector128<float> acc, Vector128<byte> u, float* x)
    {
        var lower = AdvSimd.ZeroExtendWideningLower(u.GetLower());
        var upper = AdvSimd.ZeroExtendWideningUpper(u);
        acc = AdvSimd.FusedMultiplyAdd(acc, AdvSimd.ConvertToSingle(AdvSimd.ZeroExtendWideningLower(lower.GetLower())), AdvSimd.LoadVector128(x));
        acc = AdvSimd.FusedMultiplyAdd(acc, AdvSimd.ConvertToSingle(AdvSimd.ZeroExtendWideningUpper(lower)), AdvSimd.LoadVector128(x + 4));
        acc = AdvSimd.FusedMultiplyAdd(acc, AdvSimd.ConvertToSingle(AdvSimd.ZeroExtendWideningLower(upper.GetLower())), AdvSimd.LoadVector128(x + 8));
        return AdvSimd.FusedMultiplyAdd(acc, AdvSimd.ConvertToSingle(AdvSimd.ZeroExtendWideningUpper(upper)), AdvSimd.LoadVector128(x + 12));
    }

    /// <summary>One row as float32 (the prefill path's dequantized weight).</summary>
    public static void Dequantize(byte* w, float* scales, int k, int group, float* output)
    {
        for (var b = 0; b < k / Block; b++)
        {
            var s = scales[b * Block / group];
            var bytes = w + b * (Block / 2);
            var o = output + b * Block;
            for (var j = 0; j < Block / 2; j++)
            {
                o[j] = ((bytes[j] & 0x0F) - 8) * s;
                o[j + Block / 2] = ((bytes[j] >> 4) - 8) * s;
            }
        }
    }
}
