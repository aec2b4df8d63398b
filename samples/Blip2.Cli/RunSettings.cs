using Blip2Compiler;
using Blip2Compiler.Models;
using Blip2Compiler.Nn.Quantization;

namespace Blip2.Cli;

/// <summary>The options every command takes, and where output goes.</summary>
internal sealed record RunSettings(
    string? ModelDirectory, string Device, string DType, string? LibTorch, bool Json,
    TextWriter Out, TextWriter Error, bool Interactive)
{
    /// <summary>Parses --dtype first, so a bad value is reported before any model is read.</summary>
    public Blip2LoadOptions LoadOptions() => new()
    {
        Device = Device,
        DType = DTypeSpec.Parse(DType),
        LibTorchPath = LibTorch,
        Quantization = Quantize switch
        {
            "int8" => QuantizationMode.Int8,
            "int4" => QuantizationMode.Int4,
            _ => QuantizationMode.None,
        },
    };

    /// <summary>--quantize: none, int8 or int4 (the parser accepts only these).</summary>
    public string? Quantize { get; init; }
}
