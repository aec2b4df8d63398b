using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Nn.Quantization;

/// <summary>
/// The quantizer against the definition (symmetric round-to-nearest, computed here with plain torch ops), and every
/// kernel this CPU runs against the same product computed by libtorch from the dequantized weight.
/// </summary>
public class WeightOnlyKernelTests
{
    public static TheoryData<KernelIsa> Isas()
    {
        var data = new TheoryData<KernelIsa>();
        foreach (var isa in KernelIsas.Available) data.Add(isa);
        return data;
    }

    [Fact]
    public void Int8ScalesAreRowMaxOver127AndCodesRoundToNearest()
    {
        using var _ = NewDisposeScope();
        var w = randn(37, 70, generator: new Generator(1));
        var q = Quantizer.Quantize(w, QuantizationMode.Int8, 0);
        var expectedScale = w.abs().amax(1) / 127;
        Assert.True(allclose(tensor(q.Scales), expectedScale, rtol: 1e-6, atol: 0));
        var expectedCodes = (w / expectedScale.unsqueeze(1)).round().clamp(-127, 127);
        Assert.True(q.Data.to_type(ScalarType.Float32).eq(expectedCodes).all().item<bool>());
        // |w − q·s| ≤ s/2 per row.
        var error = (q.Dequantize() - w).abs();
        Assert.True(error.le(expectedScale.unsqueeze(1) * 0.5 + 1e-7).all().item<bool>());
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(128)]
    public void Int4ScalesAreGroupMaxOver7AndNibblesHoldTheCodes(int group)
    {
        using var _ = NewDisposeScope();
        var w = randn(9, 256, generator: new Generator(2));
        var q = Quantizer.Quantize(w, QuantizationMode.Int4, group);
        var grouped = w.view(9, 256 / group, group);
        var expectedScale = grouped.abs().amax(2) / 7;
        Assert.True(allclose(tensor(q.Scales).view(9, 256 / group), expectedScale, rtol: 1e-6, atol: 0));
        var codes = (grouped / expectedScale.unsqueeze(2)).round().clamp(-8, 7).view(9, 256);
        var bytes = q.Data.data<byte>().ToArray();
        var expected = codes.data<float>().ToArray();
        for (var r = 0; r < 9; r++)
            for (var i = 0; i < 256; i++)
                Assert.Equal((int)expected[r * 256 + i], Int4Kernels.Nibble(bytes.AsSpan(r * 128, 128), i) - 8);
        var error = (q.Dequantize().view(9, 256 / group, group) - grouped).abs();
        Assert.True(error.le(expectedScale.unsqueeze(2) * 0.5 + 1e-7).all().item<bool>());
    }

    /// <summary>Rows are independent: a weight quantized a few rows at a time (as the loader does while reading) is
    /// the weight quantized whole, bit for bit.</summary>
    [Theory]
    [InlineData(QuantizationMode.Int8)]
    [InlineData(QuantizationMode.Int4)]
    public void RowsAddedInPiecesEqualTheWholeWeight(QuantizationMode mode)
    {
        using var _ = NewDisposeScope();
        var w = randn(23, 256, generator: new Generator(5));
        var whole = Quantizer.Quantize(w, mode, 64);
        var values = w.data<float>().ToArray();
        using var rows = Quantizer.Start(mode, 23, 256, 64);
        foreach (var (first, count) in new[] { (0, 1), (1, 10), (11, 12) })
            rows.AddRows(values.AsSpan(first * 256, count * 256));
        Assert.Throws<ArgumentException>(() => rows.AddRows(values.AsSpan(0, 256)));   // a 24th row
        var pieces = rows.Finish();
        Assert.True(whole.Data.bytes.SequenceEqual(pieces.Data.bytes));
        Assert.Equal(whole.Scales, pieces.Scales);
        using var short_ = Quantizer.Start(mode, 2, 256, 64);
        Assert.Throws<InvalidOperationException>(() => short_.Finish());   // rows missing
        whole.Data.Dispose();
        pieces.Data.Dispose();
    }

    [Fact]
    public void AllZeroRowsQuantizeToZero()
    {
        using var _ = NewDisposeScope();
        var w = zeros(4, 64);
        foreach (var mode in new[] { QuantizationMode.Int8, QuantizationMode.Int4 })
        {
            var q = Quantizer.Quantize(w, mode, 32);
            Assert.All(q.Scales, s => Assert.Equal(0f, s));
            Assert.Equal(0, q.Dequantize().abs().sum().item<float>());
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Int8KernelMatchesTheDequantizedProduct(KernelIsa isa)
    {
        // 203 input features: the 32-wide main loop, the 8-wide loop and the scalar tail all run.
        foreach (var rows in new[] { 1, 3, 8 })
            AssertKernelMatches(isa, QuantizationMode.Int8, outFeatures: 70, inFeatures: 203, group: 0, rows);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Int4KernelMatchesTheDequantizedProduct(KernelIsa isa)
    {
        foreach (var group in new[] { 32, 128 })
            foreach (var rows in new[] { 1, 5 })
                AssertKernelMatches(isa, QuantizationMode.Int4, outFeatures: 67, inFeatures: 384, group, rows);
    }

    [Fact]
    public void ManyRowsTakeTheDequantizedGemmAndAgreeWithTheGemv()
    {
        using var _ = NewDisposeScope();
        foreach (var mode in new[] { QuantizationMode.Int8, QuantizationMode.Int4 })
        {
            var q = Quantizer.Quantize(randn(300, 256, generator: new Generator(3)), mode, 128);
            var x = randn(2, 20, 256, generator: new Generator(4));
            var bias = randn(300, generator: new Generator(5));
            var gemm = WeightOnlyMatmul.Forward(q, x, bias, KernelIsas.Best);
            var gemv = WeightOnlyMatmul.Forward(q, x, bias, KernelIsas.Best, gemvMaxRows: int.MaxValue);
            Assert.Equal([2L, 20, 300], gemm.shape);
            Assert.True(allclose(gemm, gemv, rtol: 1e-4, atol: 1e-4));
            // Twice, so the reused buffer is reused (and a smaller layer fits in it).
            Assert.True(allclose(WeightOnlyMatmul.Forward(q, x, bias, KernelIsas.Best), gemm));
        }
    }

    private static void AssertKernelMatches(KernelIsa isa, QuantizationMode mode, int outFeatures, int inFeatures, int group, int rows)
    {
        using var _ = NewDisposeScope();
        var generator = new Generator((ulong)(rows * 1000 + inFeatures + group));
        var q = Quantizer.Quantize(randn(outFeatures, inFeatures, generator: generator), mode, group);
        var x = randn(rows, inFeatures, generator: generator);
        var bias = randn(outFeatures, generator: generator);
        var expected = nn.functional.linear(x.to_type(ScalarType.Float64), q.Dequantize().to_type(ScalarType.Float64), bias.to_type(ScalarType.Float64));
        var actual = WeightOnlyMatmul.Forward(q, x, bias, isa, gemvMaxRows: int.MaxValue);
        // float32 sums of ~400 products of magnitude ≤ ~3: rounding error ≲ 1e-5 relative to the row's |x|·|w| sum.
        var scale = nn.functional.linear(x.abs().to_type(ScalarType.Float64), q.Dequantize().abs().to_type(ScalarType.Float64)).max().item<double>();
        var worst = (actual.to_type(ScalarType.Float64) - expected).abs().max().item<double>();
        Assert.True(worst <= 1e-5 * scale, $"{isa} {mode} group {group} rows {rows}: max error {worst:g3}, scale {scale:g3}");
    }
}
