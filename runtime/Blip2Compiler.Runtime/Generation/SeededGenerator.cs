using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// A seeded random source for sampling. TorchSharp's Generator is a CPU generator, so on a GPU the device's default
/// generator is seeded instead and null is returned (draws then use it).
/// </summary>
internal static class SeededGenerator
{
    public static Generator? For(long? seed, Device device)
    {
        if (seed is not { } value) return null;
        if (device.type == TorchSharp.DeviceType.CPU) return new Generator(unchecked((ulong)value), device);
        TorchSharp.torch.cuda.manual_seed_all(value);
        return null;
    }
}
