namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// A quantization the model cannot be loaded with (int4 on a layer whose input size is not a multiple of the group, a
/// compute dtype or device the kernels lack, a bad group size), raised before any weight is read.
/// </summary>
public sealed class UnsupportedQuantizationException : Blip2Exception
{
    public UnsupportedQuantizationException(QuantizationMode mode, string reason, string? parameter = null)
        : base($"cannot load with {mode.ToString().ToLowerInvariant()} quantization: {reason}{(parameter is null ? "" : $" (parameter '{parameter}')")}")
    {
        Mode = mode;
        Reason = reason;
        Parameter = parameter;
    }

    public QuantizationMode Mode { get; }
    public string Reason { get; }
    /// <summary>The first parameter that cannot be quantized, when one is the cause.</summary>
    public string? Parameter { get; }
}
