using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

internal static class TensorAssert
{
    /// <summary>Same dtype, shape and every element (NaN never appears in these tests).</summary>
    public static void Identical(Tensor expected, Tensor actual, string what = "tensor")
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        using var eq = expected.eq(actual);
        using var same = eq.all();
        Assert.True(same.item<bool>(), $"{what} differs");
    }
}
