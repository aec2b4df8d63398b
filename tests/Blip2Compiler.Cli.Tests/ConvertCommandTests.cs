using Blip2Compiler.Checkpoints;
using Blip2Compiler.Tests.Checkpoints;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary><c>blip2 convert</c>: a pytorch_model.bin checkpoint to safetensors, run by the CLI in-process.</summary>
public class ConvertCommandTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>The bundled tiny OPT with its weights as torch.save writes them (and no model.safetensors).</summary>
    private string PickledTinyOpt()
    {
        var folder = _temp.CopyOf(CliRun.TinyOpt);
        var weights = Path.Combine(folder, Checkpoint.SingleFileName);
        var tensors = new Dictionary<string, Tensor>();
        using (var checkpoint = Checkpoint.Open(weights))
            foreach (var key in checkpoint.Keys) tensors[key] = checkpoint.Load(key);
        TorchSaveWriter.Write(Path.Combine(folder, Checkpoint.PyTorchFileName), tensors);
        foreach (var t in tensors.Values) t.Dispose();
        File.Delete(weights);
        return folder;
    }

    [Fact]
    public async Task APyTorchCheckpointConvertsAndCaptionsAsTheOriginal()
    {
        var pickled = PickledTinyOpt();
        var output = Path.Combine(_temp.Path, "converted");
        var run = await CliRun.Run("convert", pickled, "--to", "safetensors", "-o", output);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.StartsWith(output + "\tmodel.safetensors\t", run.Out);
        Assert.EndsWith("float32", run.OutLines[0]);
        foreach (var file in new[] { "model.safetensors", "config.json", "generation_config.json", "vocab.json", "merges.txt", "tokenizer_config.json", "preprocessor_config.json" })
            Assert.True(File.Exists(Path.Combine(output, file)), file + " was not written");

        var original = await CliRun.Run("caption", CliRun.Photo, "--model", CliRun.TinyOpt, "--max-new-tokens", "5", "-q");
        var fromBin = await CliRun.Run("caption", CliRun.Photo, "--model", pickled, "--max-new-tokens", "5", "-q");
        var converted = await CliRun.Run("caption", CliRun.Photo, "--model", output, "--max-new-tokens", "5", "-q");
        Assert.True(original.ExitCode == 0, original.Error);
        Assert.Equal(original.Out.Split('\t')[1], fromBin.Out.Split('\t')[1]);
        Assert.Equal(original.Out.Split('\t')[1], converted.Out.Split('\t')[1]);
    }

    [Fact]
    public async Task ConvertingInPlaceWritesBesideTheBinAndThenIsRefused()
    {
        var pickled = PickledTinyOpt();
        var first = await CliRun.Run("convert", pickled, "--to", "safetensors", "--dtype", "bfloat16", "-q");
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.EndsWith("bfloat16", first.OutLines[0]);
        using (var checkpoint = Checkpoint.Open(pickled))
        {
            Assert.EndsWith(Checkpoint.SingleFileName, checkpoint.Files[0]);
            Assert.Equal(TorchSharp.torch.ScalarType.BFloat16, checkpoint.Info("language_projection.weight").DType);
        }
        var again = await CliRun.Run("convert", pickled, "--to", "safetensors");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already holds model.safetensors", again.Error);
    }

    [Theory]
    [InlineData("--to", "gguf")]
    [InlineData("--quantize", "int8", "--to", "safetensors")]
    public async Task AWrongCommandLineIsAUsageError(params string[] options)
    {
        var run = await CliRun.Run(["convert", CliRun.TinyOpt, .. options]);
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("blip2: error: ", run.Error);
    }

    [Fact]
    public async Task TheTargetFormatIsRequired()
    {
        var run = await CliRun.Run("convert", CliRun.TinyOpt);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--to", run.Error);
    }
}
