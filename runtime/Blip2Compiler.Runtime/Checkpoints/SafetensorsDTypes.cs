using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>The safetensors dtype names this reader accepts and the TorchSharp type each becomes.</summary>
internal static class SafetensorsDTypes
{
    private static readonly (string Name, ScalarType Type, int Size)[] Known =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    public static string Supported { get; } = string.Join(", ", Known.Select(k => k.Name));

    public static bool TryParse(string name, out ScalarType type)
    {
        foreach (var k in Known)
        {
            if (k.Name == name) { type = k.Type; return true; }
        }
        type = default;
        return false;
    }

    public static string Name(ScalarType type) =>
        Known.FirstOrDefault(k => k.Type == type).Name ?? throw new ArgumentException($"{type} has no safetensors dtype", nameof(type));

    public static int ElementSize(ScalarType type) =>
        Known.FirstOrDefault(k => k.Type == type).Size is var s and > 0 ? s : throw new ArgumentException($"{type} has no safetensors dtype", nameof(type));

    public static bool IsFloatingPoint(ScalarType type) =>
        type is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;
}
