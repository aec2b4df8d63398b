using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// A tensor for <see cref="SafetensorsWriter"/> that need not be in memory: its header entry, and a callback that
/// writes exactly its <see cref="ByteLength"/> raw little-endian bytes (e.g. a generated checkpoint bigger than RAM).
/// </summary>
public sealed record StreamedTensor(string Name, ScalarType DType, long[] Shape, Action<Stream> WriteData)
{
    public long ByteLength => Shape.Aggregate(1L, (n, d) => n * d) * SafetensorsDTypes.ElementSize(DType);

    /// <summary>An in-memory tensor (any device or layout: written from a contiguous CPU copy, one at a time).</summary>
    public static StreamedTensor Of(string name, Tensor tensor) => new(name, tensor.dtype, tensor.shape, stream =>
    {
        // The scope releases the contiguous CPU copy (never the caller's tensor, created outside it).
        using var scope = TorchSharp.torch.NewDisposeScope();
        TensorBytes.CopyTo(tensor.detach().cpu().contiguous(), stream);
    });
}
