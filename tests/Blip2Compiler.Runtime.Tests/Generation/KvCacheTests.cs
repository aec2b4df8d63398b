using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

public class KvCacheTests
{
    // [rows, heads, n, headDim] whose entries tell row, position and kind apart
    private static Tensor Block(int rows, int start, int n, float kind) =>
        (arange(rows).view(rows, 1, 1, 1) * 100 + arange(start, start + n).view(1, 1, n, 1) + kind)
            .expand(rows, 2, n, 3).to(ScalarType.Float32).contiguous();

    [Fact]
    public void AppendWritesInPlaceAndReturnsEverythingCachedSoFar()
    {
        using var cache = new KvCache(layers: 2, rows: 3, heads: 2, capacity: 6, headDim: 3, ScalarType.Float32, CPU);
        var (keys, values) = cache.Append(0, Block(3, 0, 4, 0.25f), Block(3, 0, 4, 0.5f));
        cache.Append(1, Block(3, 0, 4, 0.75f), Block(3, 0, 4, 0.75f));
        Assert.Equal(0, cache.Length);   // appending does not advance
        Assert.Equal([3L, 2, 4, 3], keys.shape);
        cache.Advance(4);

        var (keys2, values2) = cache.Append(0, Block(3, 4, 1, 0.25f), Block(3, 4, 1, 0.5f));
        Assert.Equal([3L, 2, 5, 3], keys2.shape);
        Assert.True(keys2.eq(Block(3, 0, 5, 0.25f)).all().item<bool>());
        Assert.True(values2.eq(Block(3, 0, 5, 0.5f)).all().item<bool>());
        // views of one preallocated buffer: the earlier view sees the same memory
        keys.fill_(7f);
        var (keys3, _) = cache.Append(0, Block(3, 4, 1, 0.25f), Block(3, 4, 1, 0.5f));
        Assert.True(keys3.narrow(2, 0, 4).eq(7f).all().item<bool>());
        Assert.Equal(6, cache.Capacity);
    }

    [Fact]
    public void WholeCapacityStepsWriteAtTheLengthAndReturnTheWholeBuffers()
    {
        using var cache = new KvCache(layers: 2, rows: 3, heads: 2, capacity: 6, headDim: 3, ScalarType.Float32, CPU) { AttendWholeCapacity = true };
        // A prompt (several positions) still sees only what is filled.
        Assert.Equal(4, cache.AttendedLength(4));
        var (prompt, _) = cache.Append(0, Block(3, 0, 4, 0.25f), Block(3, 0, 4, 0.5f));
        Assert.Equal([3L, 2, 4, 3], prompt.shape);
        cache.Append(1, Block(3, 0, 4, 0.75f), Block(3, 0, 4, 0.75f));
        cache.Advance(4);

        for (var position = 4; position < 6; position++)
        {
            Assert.Equal(6, cache.AttendedLength(1));
            var (keys, values) = cache.Append(0, Block(3, position, 1, 0.25f), Block(3, position, 1, 0.5f));
            cache.Append(1, Block(3, position, 1, 0.75f), Block(3, position, 1, 0.75f));
            Assert.Equal([3L, 2, 6, 3], keys.shape);
            Assert.True(keys.narrow(2, 0, position + 1).eq(Block(3, 0, position + 1, 0.25f)).all().item<bool>());
            Assert.True(values.narrow(2, 0, position + 1).eq(Block(3, 0, position + 1, 0.5f)).all().item<bool>());
            // Not written yet: still the zeros the buffer started with (attention masks them out).
            Assert.True(keys.narrow(2, position + 1, 5 - position).eq(0f).all().item<bool>());
            cache.Advance(1);
        }
        Assert.Throws<KvCacheFullException>(() => cache.Append(0, Block(3, 6, 1, 0.25f), Block(3, 6, 1, 0.5f)));
    }

    [Fact]
    public void WholeCapacityAttentionEqualsAttentionOverTheFilledPart()
    {
        using var _ = NewDisposeScope();
        using var cache = new KvCache(1, 2, 2, 8, 4, ScalarType.Float32, CPU) { AttendWholeCapacity = true };
        var keys = randn(2, 2, 5, 4);
        var values = randn(2, 2, 5, 4);
        cache.Append(0, keys.narrow(2, 0, 4), values.narrow(2, 0, 4));
        cache.Advance(4);
        var (allKeys, allValues) = cache.Append(0, keys.narrow(2, 4, 1), values.narrow(2, 4, 1));
        var q = randn(2, 2, 1, 4);
        var ctx = new Blip2Compiler.Nn.ForwardContext();
        // Row 1 is left padded by one position: both forms must hide it.
        var padding = tensor(new long[,] { { 1, 1, 1, 1, 1, 0, 0, 0 }, { 0, 1, 1, 1, 1, 0, 0, 0 } });
        var whole = Blip2Compiler.Nn.Ops.Attention(ctx, q, allKeys, allValues, Blip2Compiler.Nn.Ops.CausalMask(padding, 1, 4), 0.5);
        var filled = Blip2Compiler.Nn.Ops.Attention(new Blip2Compiler.Nn.ForwardContext(), q, keys, values,
            Blip2Compiler.Nn.Ops.CausalMask(padding.narrow(1, 0, 5), 1, 4), 0.5);
        Assert.True(whole.allclose(filled, rtol: 0, atol: 1e-6), $"max difference {(whole - filled).abs().max().item<float>()}");
    }

    [Fact]
    public void ReorderKeepsTheGivenRowsOfEveryLayer()
    {
        using var cache = new KvCache(2, 3, 2, 4, 3, ScalarType.Float32, CPU);
        cache.Append(0, Block(3, 0, 2, 0.25f), Block(3, 0, 2, 0.5f));
        cache.Append(1, Block(3, 0, 2, 0.75f), Block(3, 0, 2, 0.125f));
        cache.Advance(2);

        cache.Reorder(tensor(new long[] { 2, 2, 0 }));

        var (keys, values) = cache.Append(1, Block(3, 2, 1, 0.75f), Block(3, 2, 1, 0.125f));
        var expected = Block(3, 0, 2, 0.75f).index_select(0, tensor(new long[] { 2, 2, 0 }));
        Assert.True(keys.narrow(2, 0, 2).eq(expected).all().item<bool>());
        Assert.True(keys.narrow(2, 2, 1).eq(Block(3, 2, 1, 0.75f)).all().item<bool>());
        var (keys0, _) = cache.Append(0, Block(3, 2, 1, 0.25f), Block(3, 2, 1, 0.5f));
        Assert.True(keys0.narrow(2, 0, 2).eq(Block(3, 0, 2, 0.25f).index_select(0, tensor(new long[] { 2, 2, 0 }))).all().item<bool>());
        Assert.Throws<ArgumentException>(() => cache.Reorder(tensor(new long[] { 0, 1 })));
    }

    [Fact]
    public void ExceedingCapacityIsAClearError()
    {
        using var cache = new KvCache(1, 1, 1, 3, 1, ScalarType.Float32, CPU);
        cache.Append(0, zeros(1, 1, 2, 1), zeros(1, 1, 2, 1));
        cache.Advance(2);
        var error = Assert.Throws<KvCacheFullException>(() => cache.Append(0, zeros(1, 1, 2, 1), zeros(1, 1, 2, 1)));
        Assert.Contains("3", error.Message);
        Assert.Throws<KvCacheFullException>(() => cache.Advance(2));
        Assert.IsAssignableFrom<Blip2Exception>(error);
    }
}
