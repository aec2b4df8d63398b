using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

/// <summary>The pieces around the static decoding step: batch buckets, the BLIP2_DECODING_STEP values, the shim's
/// absence said as a reason.</summary>
public class StaticStepPartsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(5, 8)]
    [InlineData(9, 16)]
    [InlineData(17, 32)]
    [InlineData(32, 32)]
    [InlineData(33, 33)]
    public void RowsGoToTheSmallestBucketThatHoldsThem(long rows, long bucket) => Assert.Equal(bucket, BatchBuckets.For(rows));

    [Fact]
    public void ZeroRowsHaveNoBucket() => Assert.Throws<ArgumentOutOfRangeException>(() => BatchBuckets.For(0));

    [Theory]
    [InlineData(null, DecodingStep.Dynamic)]
    [InlineData("", DecodingStep.Dynamic)]
    [InlineData("dynamic", DecodingStep.Dynamic)]
    [InlineData("static", DecodingStep.StaticBuffers)]
    [InlineData(" Cuda-Graphs ", DecodingStep.CudaGraphs)]
    public void EnvironmentValuesNameTheSteps(string? value, DecodingStep step) => Assert.Equal(step, DecodingSteps.Parse(value));

    [Fact]
    public void AnUnknownEnvironmentValueIsATypedError()
    {
        var error = Assert.Throws<InvalidGenerationOptionException>(() => DecodingSteps.Parse("graph"));
        Assert.Equal(DecodingSteps.EnvironmentVariable, error.Option);
        Assert.Equal("graph", error.Value);
    }

    /// <summary>The static step's cache column: one device tensor for the whole run, moved by Advance between steps.</summary>
    [Fact]
    public void TheWritePositionIsOneDeviceTensorThatAdvanceMoves()
    {
        using var cache = new KvCache(layers: 1, rows: 2, heads: 1, capacity: 8, headDim: 2, ScalarType.Float32, CPU) { AttendWholeCapacity = true };
        cache.Advance(3);
        var position = cache.WritePosition;
        Assert.Equal(3, position.item<long>());
        cache.Advance(1);
        Assert.Same(position, cache.WritePosition);
        Assert.Equal(4, position.item<long>());
    }

    /// <summary>Tests run on the packaged CPU libtorch, with no shim built: the reason is given, nothing throws.</summary>
    [Fact]
    public void AMissingShimIsAReasonNotAnError()
    {
        var why = CudaGraphShim.Unavailable;
        Assert.False(string.IsNullOrWhiteSpace(why));
        var error = Assert.Throws<CudaGraphException>(() => CudaGraphShim.Create(0));
        Assert.Equal("load", error.Operation);
        Assert.Equal(why, error.NativeMessage);
    }
}
