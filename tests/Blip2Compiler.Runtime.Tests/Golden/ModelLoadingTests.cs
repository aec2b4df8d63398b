using Blip2Compiler.Checkpoints;
using Blip2Compiler.Models;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Tests.Golden;

/// <summary>Loading whole models: precision, sharding, and each way a checkpoint folder can be wrong.</summary>
public class ModelLoadingTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("blip2-load").FullName;

    public void Dispose() => Directory.Delete(_temp, true);

    [Fact]
    [Trait("Category", "Golden")]
    public void Bfloat16OnCpuStaysCloseToTheReference()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory, new Blip2LoadOptions { DType = torch.ScalarType.BFloat16 });
        var output = model.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]);
        Assert.Equal(torch.ScalarType.BFloat16, output.Logits.dtype);
        Assert.Equal(torch.ScalarType.Float32, model.QueryTokens.dtype);       // kept float32, as the reference
        // Measured on this fixture (CPU, 2026-11-27): max |Δlogits| = 0.035 over real tokens; bf16 keeps 8 bits of
        // mantissa, so the bound is set at 0.1, about 3× the measurement.
        var real = g["attention_mask"].unsqueeze(-1).to_type(torch.ScalarType.Bool);
        var diff = (output.Logits.to_type(torch.ScalarType.Float32) - g["logits"]).abs().masked_select(real.expand_as(g["logits"])).max().item<float>();
        Assert.True(diff < 0.1f, $"bf16 logits differ by {diff:F4} from the float32 reference");
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void AShardedCopyGivesIdenticalResults()
    {
        using var g = new GoldenCase("blip2-opt");
        var tensors = new Dictionary<string, Tensor>();
        using (var single = Checkpoint.Open(g.ModelDirectory))
            foreach (var key in single.Keys) tensors[key] = single.Load(key, null, torch.CPU);
        var sharded = Path.Combine(_temp, "sharded");
        Directory.CreateDirectory(sharded);
        SafetensorsWriter.WriteSharded(sharded, tensors, maxShardBytes: 64 * 1024);
        File.Copy(Path.Combine(g.ModelDirectory, "config.json"), Path.Combine(sharded, "config.json"));
        Assert.True(File.Exists(Path.Combine(sharded, "model.safetensors.index.json")));
        Assert.True(Directory.GetFiles(sharded, "model-*.safetensors").Length > 1);

        using var fromSingle = GoldenOpt.Load(g.ModelDirectory);
        using var fromShards = GoldenOpt.Load(sharded);
        var a = fromSingle.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]).Logits;
        var b = fromShards.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]).Logits;
        Assert.True(a.eq(b).all().item<bool>(), "sharded and single-file checkpoints give different logits");
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void TheCheckpointSavedAsPyTorchMatchesTheFixtureAsSafetensors()
    {
        // The fixture's weights written as torch.save writes pytorch_model.bin (Checkpoints/TorchSaveWriter.cs), some
        // of them bfloat16 and one a transposed view, as fine-tuned checkpoints hold them: the same model, the same
        // logits (the bfloat16 ones through the same conversion), and both match Hugging Face's to 1e-4.
        using var g = new GoldenCase("blip2-opt");
        var storages = new Dictionary<string, Tensor>();
        var views = new List<Checkpoints.TorchSaveWriter.View>();
        using (var single = Checkpoint.Open(g.ModelDirectory))
            foreach (var key in single.Keys.Order(StringComparer.Ordinal))
            {
                var t = single.Load(key, null, torch.CPU);
                var name = storages.Count.ToString();
                if (key == "language_projection.weight")
                {
                    storages[name] = t.t().contiguous().reshape(-1);   // stored transposed: the view is t() of it
                    views.Add(new(key, name, 0, t.shape, [1, t.shape[0]]));
                }
                else
                {
                    storages[name] = t.reshape(-1);
                    views.Add(new(key, name, 0, t.shape, [.. t.stride()]));
                }
            }
        var pickled = Path.Combine(_temp, "pickled");
        Directory.CreateDirectory(pickled);
        Checkpoints.TorchSaveWriter.Write(Path.Combine(pickled, "pytorch_model.bin"), storages, views);
        File.Copy(Path.Combine(g.ModelDirectory, "config.json"), Path.Combine(pickled, "config.json"));

        using var fromSafetensors = GoldenOpt.Load(g.ModelDirectory);
        using var fromPickle = GoldenOpt.Load(pickled);
        var a = fromSafetensors.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]).Logits;
        var b = fromPickle.Forward(g["pixel_values"], g["input_ids"], g["attention_mask"]).Logits;
        Assert.True(a.eq(b).all().item<bool>(), "pytorch_model.bin and model.safetensors give different logits");
        var real = g["attention_mask"].unsqueeze(-1).to_type(torch.ScalarType.Bool).expand_as(g["logits"]);
        var diff = (b - g["logits"]).abs().masked_select(real).max().item<float>();
        Assert.True(diff < 1e-4f, $"logits from pytorch_model.bin differ by {diff} from Hugging Face's");
        foreach (var t in storages.Values) t.Dispose();
    }

    [Fact]
    public void ACheckpointOfAnotherConfigIsRejectedByName()
    {
        // The T5 fixture's folder loaded into the OPT model class.
        var error = Assert.Throws<ConfigMismatchException>(() => GoldenOpt.Load(Fixtures.Golden("blip2-flan-t5") + "/model"));
        Assert.Contains("text_config.model_type", error.Message);
        Assert.Contains("config.json", error.Message);
    }

    [Fact]
    public void MissingAndUnexpectedKeysAreNamed()
    {
        using var g = new GoldenCase("blip2-opt");
        var tensors = new Dictionary<string, Tensor>();
        using (var single = Checkpoint.Open(g.ModelDirectory))
            foreach (var key in single.Keys.Where(k => k != "language_projection.weight")) tensors[key] = single.Load(key, null, torch.CPU);
        tensors["language_projection.extra"] = torch.zeros(3);
        SafetensorsWriter.Write(Path.Combine(_temp, "model.safetensors"), tensors);
        var error = Assert.Throws<CheckpointMismatchException>(() => GoldenOpt.Load(_temp));
        Assert.Contains("language_projection.weight", error.Message);
        Assert.Contains("language_projection.extra", error.Message);
    }

    [Fact]
    public void ATruncatedFileIsAFormatError()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Fixtures.Golden("blip2-opt"), "model", "model.safetensors"));
        File.WriteAllBytes(Path.Combine(_temp, "model.safetensors"), bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var error = Assert.Throws<CheckpointFormatException>(() => GoldenOpt.Load(_temp));
        Assert.Contains("model.safetensors", error.Message);
    }

    [Fact]
    public void AWrongDeviceNameIsRejected()
    {
        var error = Assert.Throws<InvalidDeviceException>(() => GoldenOpt.Load(Fixtures.Golden("blip2-opt") + "/model", new Blip2LoadOptions { Device = "gpu0" }));
        Assert.Contains("gpu0", error.Message);
    }

    [Fact]
    public void AMissingFolderIsNamed()
    {
        var missing = Path.Combine(_temp, "nope");
        var error = Assert.Throws<CheckpointFormatException>(() => GoldenOpt.Load(missing));
        Assert.Contains(missing, error.Message);
    }
}

public class HalfPrecisionRetrievalTests
{
    [Fact]
    [Trait("Category", "Golden")]
    public void RetrievalRunsInBfloat16WithTheQFormerInFloat32()
    {
        using var g = new GoldenCase("blip2-itm");
        using var model = GoldenItm.Load(g.ModelDirectory, new Models.Blip2LoadOptions { DType = TorchSharp.torch.ScalarType.BFloat16 });
        var itm = model.ImageTextMatching(g["pixel_values"], g["input_ids"], g["attention_mask"]);
        var itc = model.ImageTextContrastive(g["pixel_values"], g["input_ids"], g["attention_mask"]);
        // bf16 keeps 8 mantissa bits: measured differences on this fixture are a few hundredths.
        TensorAssert.Close(g["itm.logits_per_image"], itm, 0.1, "bf16 itm");
        TensorAssert.Close(g["itc.logits_per_image"], itc.LogitsPerImage, 0.1, "bf16 itc");
    }
}
