using static TorchSharp.torch;

namespace Blip2Compiler;

/// <summary>Parses the dtype names users type (<c>--dtype bf16</c>) into the three the models run in.</summary>
public static class DTypeSpec
{
    public static ScalarType Parse(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" => ScalarType.Float32,
        "float16" or "fp16" or "half" => ScalarType.Float16,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        _ => throw new UnsupportedDTypeException(name ?? "(null)"),
    };

    /// <summary>The canonical name: float32, float16 or bfloat16.</summary>
    public static string Name(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        _ => throw new UnsupportedDTypeException(type.ToString()),
    };

    public static void EnsureSupported(ScalarType type) => Name(type);
}
