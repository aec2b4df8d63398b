using Blip2Compiler.Checkpoints;
using Blip2Compiler.Models;
using Blip2Compiler.Nn.Quantization;
using Blip2Compiler.Tests.Checkpoints;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Tests.Golden;

/// <summary>SaveCheckpoint: Hugging Face's layout written back, so what was loaded here reloads here identically.</summary>
public class SaveCheckpointTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("blip2-save").FullName;

    public void Dispose() => Directory.Delete(_temp, true);

    private string Folder(string name) => Path.Combine(_temp, name);

    /// <summary>Every tensor of the saved folder equals the fixture's tensor of the same key (Hugging Face's own file):
    /// the fused projections split back and the T5 query scale divided out give the published tensors, bit for bit.</summary>
    private static void SameTensorsAsTheFixture(string fixtureModel, string saved)
    {
        using var original = Checkpoint.Open(fixtureModel);
        using var written = Checkpoint.Open(saved);
        Assert.Equal(original.Keys.Order(StringComparer.Ordinal), written.Keys.Order(StringComparer.Ordinal));
        foreach (var key in original.Keys)
        {
            using var expected = original.Load(key);
            using var actual = written.Load(key);
            Checkpoints.TensorAssert.Identical(expected, actual, key);
        }
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void AnOptModelSavedReloadsWithIdenticalLogitsAndThePublishedTensors()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        model.SaveCheckpoint(Folder("opt"));
        Assert.True(File.Exists(Path.Combine(Folder("opt"), "config.json")));
        Assert.True(File.Exists(Path.Combine(Folder("opt"), "generation_config.json")));
        SameTensorsAsTheFixture(g.ModelDirectory, Folder("opt"));

        using var reloaded = GoldenOpt.Load(Folder("opt"));
        var a = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]).Logits;
        var b = reloaded.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]).Logits;
        Assert.True(a.eq(b).all().item<bool>(), "the saved checkpoint gives other logits");
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void AT5ModelSavedGivesBackItsUnscaledFusedProjections()
    {
        // The tiny T5's q projections are loaded × √d_kv = 2√2 (not a power of two): saving divides it out again.
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        model.SaveCheckpoint(Folder("t5"));
        using var original = Checkpoint.Open(g.ModelDirectory);
        using var written = Checkpoint.Open(Folder("t5"));
        Assert.Equal(original.Keys.Order(StringComparer.Ordinal), written.Keys.Order(StringComparer.Ordinal));
        double worst = 0;
        foreach (var key in original.Keys)
        {
            using var expected = original.Load(key);
            using var actual = written.Load(key);
            using var diff = (expected - actual).abs().max();
            using var size = expected.abs().max();
            worst = Math.Max(worst, diff.item<float>() / Math.Max(size.item<float>(), 1e-30f));
        }
        // x·s/s in float32 is x or a neighbour: measured 5.0e-8 of the largest element (about one ulp; 2026-12-01), bound 5×.
        Assert.True(worst < 2.5e-7, $"saved tensors differ from the fixture's by {worst:E2} relative");

        using var reloaded = GoldenFlanT5.Load(Folder("t5"));
        var output = reloaded.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"], g["decoder_input_ids"]);
        TensorAssert.Close(g["logits"], output.Logits, what: "logits of the saved T5");
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void APyTorchCheckpointConvertedHereReloadsAsTheSafetensorsOne()
    {
        using var g = new GoldenCase("blip2-opt");
        var pickled = Folder("pickled");
        Directory.CreateDirectory(pickled);
        var tensors = new Dictionary<string, Tensor>();
        using (var single = Checkpoint.Open(g.ModelDirectory))
            foreach (var key in single.Keys) tensors[key] = single.Load(key);
        TorchSaveWriter.Write(Path.Combine(pickled, "pytorch_model.bin"), tensors);
        File.Copy(Path.Combine(g.ModelDirectory, "config.json"), Path.Combine(pickled, "config.json"));

        using (var fromBin = GoldenOpt.Load(pickled)) fromBin.SaveCheckpoint(pickled);   // in place, beside the .bin
        Assert.True(File.Exists(Path.Combine(pickled, Checkpoint.SingleFileName)));
        using (var check = Checkpoint.Open(pickled)) Assert.EndsWith(Checkpoint.SingleFileName, check.Files[0]);   // preferred now
        SameTensorsAsTheFixture(g.ModelDirectory, pickled);
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void ASmallShardSizeWritesAnIndexThatReloads()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        model.SaveCheckpoint(Folder("sharded"), maxShardBytes: 64 * 1024);
        Assert.True(File.Exists(Path.Combine(Folder("sharded"), Checkpoint.IndexFileName)));
        SameTensorsAsTheFixture(g.ModelDirectory, Folder("sharded"));
    }

    [Fact]
    public void AFolderWithSafetensorsWeightsIsRefusedAndLeftAlone()
    {
        using var model = GoldenOpt.CreateRandom();
        var folder = Folder("taken");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, Checkpoint.SingleFileName), "mine");
        var e = Assert.Throws<CheckpointExistsException>(() => model.SaveCheckpoint(folder));
        Assert.Equal(folder, e.Folder);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(folder, Checkpoint.SingleFileName)));
        Assert.Single(Directory.GetFiles(folder));
    }

    [Fact]
    public void AQuantizedModelIsSavedDequantizedAsFloat32()
    {
        using var model = GoldenOpt.CreateRandom(new Blip2LoadOptions { Quantization = QuantizationMode.Int8 }, seed: 3);
        var quantized = model.QuantizedParameters;
        Assert.NotEmpty(quantized);
        var folder = Folder("dequantized");
        model.SaveCheckpoint(folder);
        using var written = Checkpoint.Open(folder);
        var copies = GoldenOpt.KeyMap.Entries.Where(e => e.Alternatives[0].Kind == SourceKind.Copy).ToDictionary(e => e.Parameter);
        var (parameter, weight) = quantized.First(q => copies.ContainsKey(q.Parameter));
        var key = copies[parameter].Alternatives[0].Keys;
        using var expected = weight.Dequantize();
        using var actual = written.Load(key[0]);
        Checkpoints.TensorAssert.Identical(expected, actual, key[0]);
    }

    [Fact]
    public void ADisposedModelCannotBeSaved()
    {
        var model = GoldenOpt.CreateRandom();
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.SaveCheckpoint(Folder("gone")));
    }
}
