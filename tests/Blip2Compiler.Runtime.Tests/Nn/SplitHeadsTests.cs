using Blip2Compiler.Nn;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Nn;

public class SplitHeadsTests
{
    [Fact]
    public void FusedSplitEqualsSplittingEachPart()
    {
        using var _ = NewDisposeScope();
        var qkv = randn(2, 5, 3 * 12);   // batch 2, 5 positions, 3 parts × 4 heads × head_dim 3
        var (q, k, v) = Ops.SplitHeadsFused(qkv, 4);
        var (qPart, kPart, vPart) = Ops.SplitLast(qkv, 12, 12, 12);
        Assert.Equal([2L, 4, 5, 3], q.shape);
        Assert.True(q.eq(Ops.SplitHeads(qPart, 4)).all().item<bool>());
        Assert.True(k.eq(Ops.SplitHeads(kPart, 4)).all().item<bool>());
        Assert.True(v.eq(Ops.SplitHeads(vPart, 4)).all().item<bool>());

        var (k2, v2) = Ops.SplitHeadsFusedPair(qkv.narrow(2, 12, 24), 4);
        Assert.True(k2.eq(k).all().item<bool>());
        Assert.True(v2.eq(v).all().item<bool>());
    }
}
