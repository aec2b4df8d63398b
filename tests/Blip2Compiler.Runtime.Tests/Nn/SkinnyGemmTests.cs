using System.Runtime.Intrinsics.X86;
using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Nn;

public class SkinnyGemmTests
{
    // Shapes: odd output counts (the last single output), and every row count the blocks split into (4s, 2s, 1).
    [Theory]
    [InlineData(2, 16, 8)]
    [InlineData(3, 64, 33)]
    [InlineData(5, 24, 9)]     // k not a multiple of 16: the prefetch (one line per 16 floats) ends mid-line
    [InlineData(8, 1024, 515)]
    [InlineData(13, 128, 256)]
    [InlineData(16, 256, 600)]
    public void EqualsTheFloat64Product(int rows, int k, int n)
    {
        if (!Fma.IsSupported) return;
        using var _ = NewDisposeScope();
        using var inference = inference_mode();
        using var generator = new Generator(5, CPU);
        var x = randn(new long[] { rows, 1, k }, generator: generator);
        var w = randn(new long[] { n, k }, generator: generator);
        var b = randn(new long[] { n }, generator: generator);
        Assert.True(SkinnyGemm.Takes(x, w, b));
        var y = SkinnyGemm.Forward(x, w, b);
        var reference = (x.to_type(ScalarType.Float64).matmul(w.to_type(ScalarType.Float64).t()) + b.to_type(ScalarType.Float64)).to_type(ScalarType.Float32);
        Assert.Equal([rows, 1L, n], y.shape);
        // float32 sums of k products of N(0,1) values: |y| ~ √k, rounding ~ k · 2⁻²⁴ · √k.
        Assert.True(y.allclose(reference, rtol: 1e-5, atol: 1e-6 * k), $"max diff {(y - reference).abs().max().item<float>()}");
        var unbiased = SkinnyGemm.Forward(x, w, null);
        Assert.True(unbiased.allclose(y - b, rtol: 1e-5, atol: 1e-5 * k));
    }

    [Fact]
    public void ARowGetsTheSameBitsWhateverRowsAreBesideIt()
    {
        // The engine's exactness: a request's row in a batch-8 step is computed as in any other batch.
        if (!Fma.IsSupported) return;
        using var _ = NewDisposeScope();
        using var inference = inference_mode();
        using var generator = new Generator(9, CPU);
        var x = randn(new long[] { 8, 512 }, generator: generator);
        var w = randn(new long[] { 301, 512 }, generator: generator);
        var all = SkinnyGemm.Forward(x, w, null);
        foreach (var (first, count) in new[] { (0, 2), (5, 3), (3, 4), (6, 2) })
            Assert.True(SkinnyGemm.Forward(x.narrow(0, first, count), w, null).eq(all.narrow(0, first, count)).all().item<bool>(), $"rows [{first}, {first + count})");
    }

    [Fact]
    public void TakesOnlyWhatItComputes()
    {
        using var _ = NewDisposeScope();
        var w = randn(64, 32);
        Assert.False(SkinnyGemm.Takes(randn(1, 32), w, null));          // one row: libtorch's GEMV
        Assert.False(SkinnyGemm.Takes(randn(17, 32), w, null));         // many rows: libtorch's GEMM
        Assert.False(SkinnyGemm.Takes(randn(4, 32), randn(32, 64).t(), null)); // a transposed (not contiguous) weight
        Assert.False(SkinnyGemm.Takes(randn(4, 12), randn(8, 12), null)); // k not a multiple of 8
        Assert.False(SkinnyGemm.Takes(randn(4, 32, dtype: ScalarType.Float64), w.to_type(ScalarType.Float64), null));
        var trained = randn(64, 32).requires_grad_();
        Assert.False(SkinnyGemm.Takes(randn(4, 32), trained, null));     // autograd needs libtorch's op
        Assert.Equal(Fma.IsSupported, SkinnyGemm.Takes(randn(4, 32), w, null));
    }
}
