using Blip2Compiler.Nn;
using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>Random parameters for a key map, for benchmarks and tests that need no checkpoint.</summary>
public static class RandomParameters
{
    /// <summary>
    /// Normal(0, 0.02) weights (the reference's initializer range), ones for layer-norm weights, zeros for biases,
    /// created directly on the device from a generator seeded with <paramref name="seed"/>.
    /// </summary>
    public static ParameterSet Create(KeyMap map, CheckpointReadOptions options, long seed)
    {
        DTypeSpec.EnsureSupported(options.DType);
        TorchBackend.Initialize();
        var device = options.Device ?? torch.CPU;
        options.Quantization?.EnsureSupported(map, options.DType, device);
        // A TorchSharp Generator is a CPU generator; on a GPU the device's default generator is seeded instead.
        using var generator = device.type == DeviceType.CPU ? new Generator(unchecked((ulong)seed), device) : null;
        if (generator is null)
        {
            torch.manual_seed(seed);
            torch.cuda.manual_seed_all(seed);
        }

        var created = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in map.Entries)
            {
                var dtype = options.TypeOf(entry);
                var tensor =
                    IsNormWeight(entry.Parameter) ? torch.ones(entry.Shape, dtype, device)
                    : entry.Parameter.EndsWith("bias", StringComparison.Ordinal) ? torch.zeros(entry.Shape, dtype, device)
                    : torch.normal(0, 0.02, entry.Shape, dtype, device, generator: generator);
                var (parameter, copy) = options.Convert(entry, map, tensor.DetachFromDisposeScope());
                created[entry.Parameter] = parameter;
                if (copy is not null) created[entry.Parameter + QuantizationPlan.CopySuffix] = copy;
            }
        }
        catch
        {
            ParameterSet.DisposeAll(created);
            throw;
        }
        return new ParameterSet(created, LoadReport.Empty);
    }

    private static bool IsNormWeight(string name) =>
        name.EndsWith("layer_norm.weight", StringComparison.Ordinal)
        || name.EndsWith("LayerNorm.weight", StringComparison.Ordinal)
        || name.EndsWith("layernorm.weight", StringComparison.Ordinal);
}
