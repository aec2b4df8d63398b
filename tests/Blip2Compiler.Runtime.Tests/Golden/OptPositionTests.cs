using Blip2Compiler.Nn;
using TorchSharp;

namespace Blip2Compiler.Tests.Golden;

/// <summary>OPT's position rule, declared in opt.graph as OPTLearnedPositionalEmbedding computes it.</summary>
public class OptPositionTests
{
    [Fact]
    public void PositionsAreTheRealTokenCountMinusOneOffsetByTwoAndPaddingGetsOne()
    {
        using var model = GoldenOpt.Load(Fixtures.Golden("blip2-opt") + "/model");
        // HF: (cumsum(mask) * mask - 1) + 2 for every column: left padding → 1, then 2, 3, ...
        var mask = torch.tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1 }, new long[] { 2, 6 });
        var positions = model.TokenPositions(new ForwardContext(), mask);
        Assert.Equal(new long[] { 1, 1, 2, 3, 4, 5, 2, 3, 1, 4, 5, 6 }, positions.data<long>().ToArray());
    }
}
