namespace Blip2Compiler;

/// <summary>A device name that is malformed or names a device this process cannot use.</summary>
public sealed class InvalidDeviceException : Blip2Exception
{
    public InvalidDeviceException(string device, string problem) : base($"device '{device}': {problem}")
    {
        Device = device;
    }

    public string Device { get; }
}
