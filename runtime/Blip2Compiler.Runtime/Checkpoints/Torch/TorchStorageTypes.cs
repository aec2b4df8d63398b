using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints.Torch;

/// <summary>
/// torch's legacy typed storage classes, as <c>torch.save</c> names them in a tensor's persistent id
/// (<c>torch.FloatStorage</c>, …: <c>torch/storage.py</c>'s <c>_pickle_storage_type</c>), and the dtype each holds.
/// </summary>
internal static class TorchStorageTypes
{
    private static readonly (string Name, ScalarType Type)[] Known =
    [
        ("DoubleStorage", ScalarType.Float64), ("FloatStorage", ScalarType.Float32), ("HalfStorage", ScalarType.Float16),
        ("BFloat16Storage", ScalarType.BFloat16), ("LongStorage", ScalarType.Int64), ("IntStorage", ScalarType.Int32),
        ("ShortStorage", ScalarType.Int16), ("CharStorage", ScalarType.Int8), ("ByteStorage", ScalarType.Byte),
        ("BoolStorage", ScalarType.Bool),
    ];

    public static IEnumerable<string> Names => Known.Select(k => k.Name);

    public static bool TryParse(string name, out ScalarType type)
    {
        foreach (var k in Known)
        {
            if (k.Name == name) { type = k.Type; return true; }
        }
        type = default;
        return false;
    }
}
