using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Reads a tensor that is one byte range of a file (<see cref="TensorInfo.DataOffset"/>, <see cref="TensorInfo.ByteLength"/>)
/// into a contiguous CPU destination with positioned reads, as <see cref="SafetensorsFile.ReadInto"/> does: the same
/// dtype straight into its memory, a float conversion <see cref="FloatConversion"/> covers a scratch-sized chunk at a
/// time, anything else through a staging tensor and libtorch's copy. Used by the formats added beside safetensors
/// (<see cref="Torch.TorchPickleFile"/>); thread-safe, each caller bringing its own scratch.
/// </summary>
internal static class PositionedTensorRead
{
    public static void Into(SafeFileHandle handle, string path, TensorInfo info, Tensor destination, byte[] scratch)
    {
        var from = info.DType;
        var to = destination.dtype;
        if (from == to)
        {
            TensorBytes.ForEachSlice(destination, TensorBytes.DefaultChunkBytes, (offset, slice) => Read(handle, path, info, offset, slice));
        }
        else if (FloatConversion.Supports(from, to))
        {
            var inSize = SafetensorsDTypes.ElementSize(from);
            var outSize = (int)destination.ElementSize;
            var perStep = scratch.Length / inSize;
            if (perStep == 0) throw new ArgumentException("scratch is smaller than one element", nameof(scratch));
            TensorBytes.ForEachSlice(destination, TensorBytes.DefaultChunkBytes, (offset, slice) =>
            {
                var first = offset / outSize;
                var count = slice.Length / outSize;
                for (var done = 0; done < count; done += perStep)
                {
                    var n = Math.Min(perStep, count - done);
                    var source = scratch.AsSpan(0, n * inSize);
                    Read(handle, path, info, (first + done) * inSize, source);
                    FloatConversion.Convert(source, from, slice.Slice(done * outSize, n * outSize), to);
                }
            });
        }
        else
        {
            using var staged = torch.empty(destination.shape, from, torch.CPU);
            Into(handle, path, info, staged, scratch);
            destination.copy_(staged);
        }
    }

    /// <summary>A file that ends early (truncated since it was opened) or fails to read is a
    /// <see cref="CheckpointFormatException"/> naming the tensor.</summary>
    internal static void Read(SafeFileHandle handle, string path, TensorInfo info, long offset, Span<byte> destination)
    {
        var position = info.DataOffset + offset;
        while (!destination.IsEmpty)
        {
            int read;
            try
            {
                read = RandomAccess.Read(handle, destination, position);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CheckpointFormatException(path, $"tensor '{info.Name}' cannot be read at byte {position}: {e.Message}", e);
            }
            if (read == 0) throw Truncated(path, info, RandomAccess.GetLength(handle));
            destination = destination[read..];
            position += read;
        }
    }

    /// <summary>The error for a file that ends at <paramref name="fileLength"/>, inside the tensor's data (read or mapped).</summary>
    internal static CheckpointFormatException Truncated(string path, TensorInfo info, long fileLength) =>
        new(path, $"tensor '{info.Name}': the file ends at byte {fileLength}, inside the tensor's data " +
            $"[{info.DataOffset}, {info.DataOffset + info.ByteLength}) (truncated since it was opened?)");
}
