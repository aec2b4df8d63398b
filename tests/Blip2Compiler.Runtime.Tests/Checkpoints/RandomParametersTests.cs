using Blip2Compiler.Checkpoints;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

public class RandomParametersTests
{
    private static readonly KeyMap Map = new(
    [
        new KeyMapEntry("fc.weight", [256, 128], [new ParamSource(SourceKind.Copy, "fc.weight")]),
        new KeyMapEntry("fc.bias", [256], [new ParamSource(SourceKind.Copy, "fc.bias")]),
        new KeyMapEntry("post_layernorm.weight", [128], [new ParamSource(SourceKind.Copy, "x")]),
        new KeyMapEntry("final_layer_norm.weight", [128], [new ParamSource(SourceKind.Copy, "x")]),
        new KeyMapEntry("LayerNorm.weight", [128], [new ParamSource(SourceKind.Copy, "x")], KeepFloat32: true),
    ], []);

    [Fact]
    public void FollowsTheReferenceInitializer()
    {
        using var p = RandomParameters.Create(Map, new CheckpointReadOptions(), seed: 1);
        Assert.Equal(Map.Entries.Select(e => e.Parameter).Order(), p.Keys.Order());
        foreach (var entry in Map.Entries) Assert.Equal(entry.Shape, p[entry.Parameter].shape);

        var w = p["fc.weight"];
        Assert.Equal(0.02, w.std().item<float>(), 0.001);
        Assert.Equal(0.0, w.mean().item<float>(), 0.001);
        Assert.Equal(0f, p["fc.bias"].abs().max().item<float>());
        foreach (var norm in new[] { "post_layernorm.weight", "final_layer_norm.weight", "LayerNorm.weight" })
            Assert.Equal(1f, p[norm].min().item<float>());
    }

    [Fact]
    public void SameSeedSameWeights()
    {
        using var a = RandomParameters.Create(Map, new CheckpointReadOptions(), seed: 7);
        using var b = RandomParameters.Create(Map, new CheckpointReadOptions(), seed: 7);
        using var c = RandomParameters.Create(Map, new CheckpointReadOptions(), seed: 8);
        TensorAssert.Identical(a["fc.weight"], b["fc.weight"]);
        Assert.False(a["fc.weight"].eq(c["fc.weight"]).all().item<bool>());
    }

    [Fact]
    public void HalfPrecisionKeepsFloat32Entries()
    {
        using var p = RandomParameters.Create(Map, new CheckpointReadOptions(ScalarType.Float16), seed: 1);
        Assert.Equal(ScalarType.Float16, p["fc.weight"].dtype);
        Assert.Equal(ScalarType.Float16, p["post_layernorm.weight"].dtype);
        Assert.Equal(ScalarType.Float32, p["LayerNorm.weight"].dtype);
    }
}
