using System.Runtime.InteropServices;
using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

/// <summary>
/// The loader's managed conversions against libtorch's <c>Tensor.to</c> (the reference's own conversion) on every
/// float32 exponent and top mantissa bits, with the low bits that decide rounding: ties, just above and below a tie,
/// all zeros and all ones, plus random patterns. NaN inputs are compared as NaN (libtorch's payloads differ by path).
/// </summary>
public class FloatConversionTests
{
    /// <summary>All 65536 upper halves × 14 lower halves: around the bfloat16 rounding point (bit 15), and the
    /// float16 one (bit 12: float16 keeps 10 of the 23 mantissa bits) with the kept bit even and odd — 917 504
    /// patterns — then 400 000 random ones.</summary>
    private static uint[] Patterns()
    {
        ushort[] lows = [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1000, 0x0FFF, 0x1001, 0x3000, 0x2FFF, 0x3001, 0xB000, 0xF000];
        var random = new Random(18);
        var patterns = new List<uint>(65536 * lows.Length + 400_000);
        for (uint high = 0; high < 65536; high++)
            foreach (var low in lows) patterns.Add(high << 16 | low);
        for (var i = 0; i < 400_000; i++) patterns.Add((uint)random.NextInt64(0, 1L << 32));
        return patterns.ToArray();
    }

    private static Tensor FromBits(uint[] bits)
    {
        var t = torch.empty(bits.Length, ScalarType.Float32);
        MemoryMarshal.AsBytes(bits.AsSpan()).CopyTo(t.bytes);
        return t;
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void NarrowingRoundsAsLibtorch(ScalarType target)
    {
        var bits = Patterns();
        using var source = FromBits(bits);
        using var expected = source.to(target);
        var theirs = MemoryMarshal.Cast<byte, ushort>(expected.bytes).ToArray();
        // Whole (the vector path, 16 at a time) and in 7-element pieces (7 elements: the scalar path).
        var whole = new ushort[bits.Length];
        FloatConversion.Convert(MemoryMarshal.AsBytes(bits.AsSpan()), ScalarType.Float32, MemoryMarshal.AsBytes(whole.AsSpan()), target);
        var pieces = new ushort[bits.Length];
        for (var start = 0; start < bits.Length; start += 7)
        {
            var n = Math.Min(7, bits.Length - start);
            FloatConversion.Convert(MemoryMarshal.AsBytes(bits.AsSpan(start, n)), ScalarType.Float32, MemoryMarshal.AsBytes(pieces.AsSpan(start, n)), target);
        }
        Compare(bits, whole, theirs, target, "vector");
        Compare(bits, pieces, theirs, target, "scalar");
    }

    private static void Compare(uint[] bits, ushort[] ours, ushort[] theirs, ScalarType target, string path)
    {
        var mismatches = 0;
        var firstMismatch = "";
        for (var i = 0; i < bits.Length; i++)
        {
            var inputNaN = float.IsNaN(BitConverter.UInt32BitsToSingle(bits[i]));
            var same = inputNaN ? IsNaN(ours[i], target) && IsNaN(theirs[i], target) : ours[i] == theirs[i];
            if (same) continue;
            if (mismatches++ == 0) firstMismatch = $"0x{bits[i]:X8}: ours 0x{ours[i]:X4}, libtorch 0x{theirs[i]:X4}";
        }
        Assert.True(mismatches == 0, $"{path} path: {mismatches} of {bits.Length} differ from libtorch, first {firstMismatch}");
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void WideningIsExactForEveryValue(ScalarType stored)
    {
        var all = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        using var source = torch.empty(all.Length, stored);
        MemoryMarshal.AsBytes(all.AsSpan()).CopyTo(source.bytes);
        using var expected = source.to(ScalarType.Float32);
        var ours = new uint[all.Length];
        FloatConversion.Convert(MemoryMarshal.AsBytes(all.AsSpan()), stored, MemoryMarshal.AsBytes(ours.AsSpan()), ScalarType.Float32);

        var theirs = MemoryMarshal.Cast<byte, uint>(expected.bytes);
        for (var i = 0; i < all.Length; i++)
        {
            var nan = float.IsNaN(BitConverter.UInt32BitsToSingle(theirs[i]));
            Assert.True(nan ? float.IsNaN(BitConverter.UInt32BitsToSingle(ours[i])) : ours[i] == theirs[i],
                $"{stored} 0x{i:X4}: ours 0x{ours[i]:X8}, libtorch 0x{theirs[i]:X8}");
        }
    }

    [Fact]
    public void BFloat16RoundingCases()
    {
        Assert.Equal(0x3F80, FloatConversion.SingleToBFloat16(0x3F80_8000));   // tie, even kept: down
        Assert.Equal(0x3F82, FloatConversion.SingleToBFloat16(0x3F81_8000));   // tie, odd kept: up
        Assert.Equal(0x3F81, FloatConversion.SingleToBFloat16(0x3F80_8001));   // above the tie: up
        Assert.Equal(0x7F80, FloatConversion.SingleToBFloat16(0x7F7F_FFFF));   // largest float32: infinity
        Assert.Equal(0xFF80, FloatConversion.SingleToBFloat16(0xFF80_0000));   // -infinity stays
        Assert.Equal(0x7FC0, FloatConversion.SingleToBFloat16(0xFFFF_FFFF));   // NaN: c10's canonical NaN
    }

    private static bool IsNaN(ushort half, ScalarType type) => type == ScalarType.BFloat16
        ? (half & 0x7FFF) > 0x7F80
        : (half & 0x7FFF) > 0x7C00;
}
