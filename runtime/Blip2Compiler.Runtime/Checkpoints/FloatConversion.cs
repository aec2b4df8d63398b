using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Element conversions between checkpoint bytes and parameter bytes, done in managed code on chunks that stay in the
/// cache, so a loader thread converts what it just read without a libtorch call per chunk (libtorch's own copy would
/// start an OpenMP team from every loader thread). Each conversion rounds exactly as libtorch's <c>Tensor.to</c>:
/// float32 → bfloat16 round-to-nearest-even as <c>c10::BFloat16</c>, float32 → float16 IEEE round-to-nearest-even
/// (as <c>c10::Half</c> and F16C's <c>vcvtps2ph</c>), and the widenings, which are exact. A NaN stays a NaN of some
/// payload (libtorch's own scalar and vector paths disagree on the payload: 0x7FC0 against 0xFFFF for bfloat16).
/// Other pairs (float64 sources, float16 ↔ bfloat16) are not handled here; the loader converts those with libtorch.
/// </summary>
internal static class FloatConversion
{
    public static bool Supports(ScalarType from, ScalarType to) => (from, to) is
        (ScalarType.Float32, ScalarType.BFloat16) or (ScalarType.Float32, ScalarType.Float16)
        or (ScalarType.BFloat16, ScalarType.Float32) or (ScalarType.Float16, ScalarType.Float32);

    /// <summary>Converts whole elements: <paramref name="source"/> holds n elements of <paramref name="from"/>,
    /// <paramref name="destination"/> exactly n of <paramref name="to"/>.</summary>
    public static void Convert(ReadOnlySpan<byte> source, ScalarType from, Span<byte> destination, ScalarType to)
    {
        switch (from, to)
        {
            case (ScalarType.Float32, ScalarType.BFloat16):
                SingleToBFloat16(MemoryMarshal.Cast<byte, uint>(source), MemoryMarshal.Cast<byte, ushort>(destination));
                break;
            case (ScalarType.Float32, ScalarType.Float16):
                SingleToHalf(MemoryMarshal.Cast<byte, uint>(source), MemoryMarshal.Cast<byte, ushort>(destination));
                break;
            case (ScalarType.BFloat16, ScalarType.Float32):
                BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(source), MemoryMarshal.Cast<byte, uint>(destination));
                break;
            case (ScalarType.Float16, ScalarType.Float32):
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), MemoryMarshal.Cast<byte, float>(destination));
                break;
            default:
                throw new ArgumentException($"no managed conversion from {from} to {to}");
        }
    }

    /// <summary>
    /// <c>c10::BFloat16</c>'s <c>round_to_nearest_even</c>: add 0x7FFF plus the lowest kept bit, keep the top 16 bits;
    /// NaN becomes 0x7FC0. Finite values past bfloat16's largest round to infinity, as there.
    /// </summary>
    public static ushort SingleToBFloat16(uint bits) =>
        (bits & 0x7FFF_FFFFu) > 0x7F80_0000u ? (ushort)0x7FC0 : (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);

    private static void SingleToBFloat16(ReadOnlySpan<uint> source, Span<ushort> destination)
    {
        if (destination.Length != source.Length) throw new ArgumentException("element counts differ");
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var s = ref MemoryMarshal.GetReference(source);
            ref var d = ref MemoryMarshal.GetReference(destination);
            for (; i <= source.Length - 16; i += 16)
            {
                var low = Round(Vector256.LoadUnsafe(ref s, (nuint)i));
                var high = Round(Vector256.LoadUnsafe(ref s, (nuint)(i + 8)));
                Vector256.Narrow(low, high).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < source.Length; i++) destination[i] = SingleToBFloat16(source[i]);

        // Inlined: a Vector256 argument of a call is passed through memory, which costs the loop two thirds of its speed.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<uint> Round(Vector256<uint> bits)
        {
            var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
            var nan = Vector256.GreaterThan(bits & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u));
            return Vector256.ConditionalSelect(nan, Vector256.Create(0x7FC0u), rounded);
        }
    }

    /// <summary>
    /// float32 → float16, round-to-nearest-even, branch-free (F. Giesen's <c>float_to_half_fast3_rtne</c>): too large
    /// → infinity, NaN → 0x7E00 (with the sign), results below float16's normal range by one float32 addition of 0.5
    /// (whose own rounding is the float16 subnormal rounding), normal results by adding the exponent rebias, 0xFFF and
    /// the lowest kept bit, then shifting. Why not <see cref="TensorPrimitives.ConvertToHalf"/>: 3.4 GB/s of float32
    /// on this CPU against 10 GB/s here, and the conversion is on the load's critical path.
    /// </summary>
    private static void SingleToHalf(ReadOnlySpan<uint> source, Span<ushort> destination)
    {
        if (destination.Length != source.Length) throw new ArgumentException("element counts differ");
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var s = ref MemoryMarshal.GetReference(source);
            ref var d = ref MemoryMarshal.GetReference(destination);
            for (; i <= source.Length - 16; i += 16)
            {
                var low = Round(Vector256.LoadUnsafe(ref s, (nuint)i));
                var high = Round(Vector256.LoadUnsafe(ref s, (nuint)(i + 8)));
                Vector256.Narrow(low, high).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < source.Length; i++) destination[i] = SingleToHalf(source[i]);

        // Inlined: a Vector256 argument of a call is passed through memory, which costs the loop two thirds of its speed.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<uint> Round(Vector256<uint> bits)
        {
            var sign = bits & Vector256.Create(0x8000_0000u);
            var magnitude = (bits ^ sign).AsInt32();
            var special = Vector256.ConditionalSelect(Vector256.GreaterThan(magnitude, Vector256.Create(0x7F80_0000)),
                Vector256.Create(0x7E00), Vector256.Create(0x7C00));
            var subnormal = (magnitude.AsSingle() + Vector256.Create(0.5f)).AsInt32() - Vector256.Create(SubnormalMagic);
            var odd = (magnitude >>> 13) & Vector256<int>.One;
            var normal = (magnitude + Vector256.Create(NormalBias) + odd) >>> 13;
            var result = Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create(SmallestNormal)), subnormal, normal);
            result = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(Overflow)), special, result);
            return result.AsUInt32() | (sign >> 16);
        }
    }

    /// <summary>float32 magnitudes from 65520 (rounds to float16 infinity) up.</summary>
    private const int Overflow = (127 + 16) << 23;

    /// <summary>Below 2^-14, float16's smallest normal, results are subnormal.</summary>
    private const int SmallestNormal = (127 - 14) << 23;

    /// <summary>The bits of 0.5f: adding 0.5 puts a subnormal's float16 bits in the low mantissa bits.</summary>
    private const int SubnormalMagic = 126 << 23;

    /// <summary>Rebias the exponent from 127 to 15, plus 0xFFF: with the kept bit's parity, round half to even.</summary>
    private const int NormalBias = unchecked((int)((uint)(15 - 127) << 23)) + 0xFFF;

    public static ushort SingleToHalf(uint bits)
    {
        var sign = bits & 0x8000_0000u;
        var magnitude = (int)(bits ^ sign);
        int result;
        if (magnitude >= Overflow) result = magnitude > 0x7F80_0000 ? 0x7E00 : 0x7C00;
        else if (magnitude < SmallestNormal) result = BitConverter.SingleToInt32Bits(BitConverter.Int32BitsToSingle(magnitude) + 0.5f) - SubnormalMagic;
        else result = (int)((uint)(magnitude + NormalBias + ((magnitude >> 13) & 1)) >> 13);
        return (ushort)(result | (int)(sign >> 16));
    }

    private static void BFloat16ToSingle(ReadOnlySpan<ushort> source, Span<uint> destination)
    {
        if (destination.Length != source.Length) throw new ArgumentException("element counts differ");
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var s = ref MemoryMarshal.GetReference(source);
            ref var d = ref MemoryMarshal.GetReference(destination);
            for (; i <= source.Length - 16; i += 16)
            {
                var (low, high) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)i));
                (low << 16).StoreUnsafe(ref d, (nuint)i);
                (high << 16).StoreUnsafe(ref d, (nuint)(i + 8));
            }
        }
        for (; i < source.Length; i++) destination[i] = (uint)source[i] << 16;
    }
}
