using Blip2Compiler.Nn;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>Everything a generated model's constructor needs: its parameters, device, dtype, and its folder.</summary>
public sealed class LoadedModel
{
    public LoadedModel(IReadOnlyDictionary<string, Tensor> tensors, torch.Device device, torch.ScalarType dtype, string? checkpointDirectory)
    {
        Tensors = tensors;
        Parameters = new ParameterSet(tensors);
        Device = device;
        DType = dtype;
        CheckpointDirectory = checkpointDirectory;
    }

    public IReadOnlyDictionary<string, Tensor> Tensors { get; }
    public ParameterSet Parameters { get; }
    public torch.Device Device { get; }
    public torch.ScalarType DType { get; }
    public string? CheckpointDirectory { get; }

    /// <summary>The key map the parameters were loaded through (null for a model built by hand): what
    /// <see cref="Blip2PreTrainedModel.SaveCheckpoint"/> writes them back with.</summary>
    public Checkpoints.KeyMap? KeyMap { get; init; }

    /// <summary>The checkpoint's config.json as the load read it (null: none, or not loaded from a folder).</summary>
    public System.Text.Json.JsonElement? Config { get; init; }
}
