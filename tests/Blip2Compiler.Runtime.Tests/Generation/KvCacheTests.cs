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
