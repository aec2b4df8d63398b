using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler;

/// <summary>Parses <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> into a device this process can use.</summary>
public static class DeviceSpec
{
    public static Device Parse(string name)
    {
        var text = name?.Trim().ToLowerInvariant() ?? "";
        if (text == "cpu")
        {
            TorchBackend.Initialize();
            return torch.CPU;
        }

        int index = 0;
        var isCuda = text == "cuda" || (text.StartsWith("cuda:", StringComparison.Ordinal)
            && text.Length > 5 && text[5..].All(char.IsAsciiDigit)
            && int.TryParse(text[5..], NumberStyles.None, CultureInfo.InvariantCulture, out index));
        if (!isCuda) throw new InvalidDeviceException(name ?? "(null)", "expected cpu, cuda or cuda:N");

        TorchBackend.Initialize();
        if (!torch.cuda.is_available()) throw new InvalidDeviceException(name!, "CUDA is not available: " + LibTorchAdvice.NoCuda(LibTorchLayout.Current, TorchBackend.UserFolder));
        var count = torch.cuda.device_count();
        if (index >= count)
            throw new InvalidDeviceException(name!, $"this machine has {count} CUDA device{(count == 1 ? "" : "s")} (cuda:0 to cuda:{count - 1})");
        return new Device(DeviceType.CUDA, index);
    }
}
