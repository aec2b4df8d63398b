using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Raw byte access to contiguous CPU tensors. TorchSharp exposes a tensor's storage only as a <see cref="Span{T}"/>
/// (int-sized), so big tensors are visited in slices of a 1-D view.
/// </summary>
internal static class TensorBytes
{
    public const long DefaultChunkBytes = 1L << 30;

    public static void CopyTo(Tensor source, Stream destination, long chunkBytes = DefaultChunkBytes) =>
        ForEachSlice(source, chunkBytes, (_, span) => destination.Write(span));

    public delegate void SliceAction(long byteOffset, Span<byte> slice);

    /// <summary>Calls <paramref name="action"/> on consecutive slices of the tensor's bytes, each at most
    /// <paramref name="chunkBytes"/> (rounded down to whole elements, at least one), with its byte offset.</summary>
    public static void ForEachSlice(Tensor tensor, long chunkBytes, SliceAction action)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new ArgumentException("expected a contiguous CPU tensor", nameof(tensor));
        var count = tensor.NumberOfElements;
        if (count == 0) return;
        var elementSize = tensor.ElementSize;
        var perSlice = Math.Max(1, chunkBytes / elementSize);
        using var flat = tensor.reshape(-1);
        for (long start = 0; start < count; start += perSlice)
        {
            using var slice = flat.narrow(0, start, Math.Min(perSlice, count - start));
            action(start * elementSize, slice.bytes);
        }
    }
}
