using Blip2Compiler.Checkpoints;
using Blip2Compiler.Nn;
using TorchSharp;

namespace Blip2Compiler.Models;

/// <summary>
/// Loads a checkpoint through a generated model's key map and hands the parameters to its constructor.
/// Everything is validated (keys, shapes, dtypes, device) before any model object exists.
/// </summary>
public static class ModelLoader
{
    public static T Load<T>(string checkpointDirectory, KeyMap keyMap, ModelInfo info, Blip2LoadOptions? options, Func<LoadedModel, T> create)
    {
        options ??= new Blip2LoadOptions();
        TorchBackend.Initialize(options.LibTorchPath);
        var device = DeviceSpec.Parse(options.Device);
        if (!Directory.Exists(checkpointDirectory))
            throw new CheckpointFormatException(checkpointDirectory, "the checkpoint folder does not exist");
        // config.json is read once per load: by CompiledConfig.FindMatch when the caller picked the class with it.
        var config = options.Config ?? CheckpointConfig.Read(checkpointDirectory);
        ConfigGuard.EnsureMatches(config, info);
        options.QuantizationPlan?.EnsureSupported(keyMap, options.DType, device);
        using var checkpoint = Checkpoint.Open(checkpointDirectory);
        var loaded = CheckpointLoader.Load(checkpoint, keyMap, new CheckpointReadOptions(options.DType, device) { Quantization = options.QuantizationPlan, ZeroCopy = options.ZeroCopy, KeepFileCache = options.KeepFileCache });
        return Construct(loaded, keyMap, device, options.DType, checkpointDirectory, config, create);
    }

    public static T CreateRandom<T>(KeyMap keyMap, ModelInfo info, Blip2LoadOptions? options, long seed, Func<LoadedModel, T> create)
    {
        options ??= new Blip2LoadOptions();
        TorchBackend.Initialize(options.LibTorchPath);
        var device = DeviceSpec.Parse(options.Device);
        var loaded = RandomParameters.Create(keyMap, new CheckpointReadOptions(options.DType, device) { Quantization = options.QuantizationPlan }, seed);
        return Construct(loaded, keyMap, device, options.DType, null, null, create);
    }

    private static T Construct<T>(ParameterSet parameters, KeyMap keyMap, torch.Device device, torch.ScalarType dtype, string? directory, CheckpointConfig? config, Func<LoadedModel, T> create)
    {
        try { return create(new LoadedModel(parameters, keyMap, device, dtype, directory) { Config = config?.Root }); }
        catch
        {
            parameters.Dispose();
            throw;
        }
    }
}
