using Blip2Compiler.Checkpoints;

namespace Blip2Compiler.Tests.Golden;

/// <summary>A checkpoint folder with the right config.json but the wrong weights, or weights in another format.</summary>
public class WrongWeightsTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "blip2-weights-" + Guid.NewGuid().ToString("N"));

    public WrongWeightsTests()
    {
        Directory.CreateDirectory(_temp);
        File.Copy(Path.Combine(Fixtures.Golden("blip2-opt"), "model", "config.json"), Path.Combine(_temp, "config.json"));
    }

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void AnotherModelsWeightsGiveAShortMessageAndTheFullListsAsPayload()
    {
        // The retrieval checkpoint's weights under the OPT config: dozens of missing and unexpected keys.
        File.Copy(Path.Combine(Fixtures.Golden("blip2-itm"), "model", "model.safetensors"), Path.Combine(_temp, "model.safetensors"));
        var error = Assert.Throws<CheckpointMismatchException>(() => GoldenOpt.Load(_temp));
        Assert.True(error.MissingParameters.Count > 10, error.Message);
        Assert.True(error.Message.Length < 800, $"{error.Message.Length} characters: {error.Message}");
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains($"{error.MissingParameters.Count} missing parameters: ", error.Message);
        Assert.Contains($" and {error.MissingParameters.Count - LoadReport.NamedPerKind} more", error.Message);
        Assert.Equal(error.Report.Missing.Count, error.MissingParameters.Count);
        Assert.All(error.MissingParameters.Skip(LoadReport.NamedPerKind), name => Assert.DoesNotContain(name + ",", error.Message));
    }

    [Theory]
    [InlineData("tf_model.h5", "TensorFlow")]
    [InlineData("flax_model.msgpack", "Flax")]
    [InlineData("pytorch_model.bin", "legacy PyTorch pickle")]   // torch < 1.6: a bare pickle, not a zip
    public void WeightsInAFormatNotReadAreNamed(string file, string format)
    {
        File.WriteAllBytes(Path.Combine(_temp, file), [0x80, 0x02, 0x7d]);   // a pickle's first bytes
        var error = Assert.Throws<UnsupportedCheckpointFormatException>(() => GoldenOpt.Load(_temp));
        Assert.Equal(Path.Combine(_temp, file), error.File);
        Assert.Contains(format, error.Message);
        Assert.Contains("not read", error.Message);
        Assert.Contains("model.safetensors", error.Message);
    }

    [Fact]
    public void ALoosePickleIsNamedButNotGuessedAt()
    {
        File.WriteAllBytes(Path.Combine(_temp, "model.pt"), [0x80, 0x02, 0x7d]);
        var error = Assert.Throws<CheckpointFormatException>(() => GoldenOpt.Load(_temp));
        Assert.Contains("it holds model.pt: pass that file itself", error.Message);
        Assert.Throws<UnsupportedCheckpointFormatException>(() => Checkpoint.Open(Path.Combine(_temp, "model.pt")));
    }

    [Fact]
    public void AFolderWithoutWeightsStillSaysWhatItLacks()
    {
        var error = Assert.Throws<CheckpointFormatException>(() => GoldenOpt.Load(_temp));
        Assert.Contains("holds none of model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json", error.Message);
    }
}
