using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// One tensor's entry in a safetensors header, already validated. <see cref="DataOffset"/> is absolute in the file
/// (the header's <c>data_offsets</c> are relative to the end of the header).
/// </summary>
public sealed record TensorInfo(string Name, ScalarType DType, long[] Shape, long DataOffset, long ByteLength)
{
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    public string ShapeText => Shapes.Format(Shape);
}

internal static class Shapes
{
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
