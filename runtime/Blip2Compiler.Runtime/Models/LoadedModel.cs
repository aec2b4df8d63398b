using Blip2Compiler.Nn;
using TorchSharp;

namespace Blip2Compiler.Models;

/// <summary>Everything a generated model's constructor needs, as <see cref="ModelLoader"/> made it: its parameters,
/// device, dtype, and its folder.</summary>
public sealed class LoadedModel
{
    internal LoadedModel(ParameterSet parameters, Checkpoints.KeyMap keyMap, torch.Device device, torch.ScalarType dtype, string? checkpointDirectory)
    {
        Parameters = parameters;
        KeyMap = keyMap;
        Device = device;
        DType = dtype;
        CheckpointDirectory = checkpointDirectory;
    }

    /// <summary>The parameters the constructors take; the model owns them from then on.</summary>
    public ParameterSet Parameters { get; }
    public torch.Device Device { get; }
    public torch.ScalarType DType { get; }
    public string? CheckpointDirectory { get; }

    /// <summary>The key map the parameters were loaded through: what <see cref="Blip2PreTrainedModel.SaveCheckpoint"/> writes
    /// them back with.</summary>
    public Checkpoints.KeyMap KeyMap { get; }

    /// <summary>The checkpoint's config.json as the load read it (null: none, or not loaded from a folder).</summary>
    public System.Text.Json.JsonElement? Config { get; init; }
}
