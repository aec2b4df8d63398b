using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Raw byte copies between memory and contiguous CPU tensors. TorchSharp exposes a tensor's storage only as a
/// <see cref="Span{T}"/> (int-sized), so big tensors are copied in slices of a 1-D view.
/// </summary>
internal static unsafe class TensorBytes
{
    public const long DefaultChunkBytes = 1L << 30;

    public static void CopyFrom(nint source, long byteLength, Tensor destination, long chunkBytes = DefaultChunkBytes)
    {
        ForEachSlice(destination, chunkBytes, (offset, span) =>
            new ReadOnlySpan<byte>((byte*)source + offset, span.Length).CopyTo(span));
        if (destination.NumberOfElements * destination.ElementSize != byteLength)
            throw new InvalidOperationException("byte length does not match the tensor");
    }

    public static void CopyTo(Tensor source, Stream destination, long chunkBytes = DefaultChunkBytes) =>
        ForEachSlice(source, chunkBytes, (_, span) => destination.Write(span));

    private delegate void SliceAction(long byteOffset, Span<byte> slice);

    private static void ForEachSlice(Tensor tensor, long chunkBytes, SliceAction action)
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
