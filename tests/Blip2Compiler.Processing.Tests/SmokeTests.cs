namespace Blip2Compiler.Tests;

public class TorchSmokeTests
{
    [Fact]
    public void LibTorchLoadsAndComputes()
    {
        using var a = TorchSharp.torch.ones(2, 3);
        Assert.Equal(6f, a.sum().item<float>());
    }
}
