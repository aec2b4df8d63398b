using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Reads a tensor that is one byte range of a file (<see cref="TensorInfo.DataOffset"/>, <see cref="TensorInfo.ByteLength"/>)
/// into a contiguous CPU destination with positioned reads: the same dtype straight into its memory, a float
/// conversion <see cref="FloatConversion"/> covers a scratch-sized chunk at a time, anything else through a staging
/// tensor and libtorch's copy. Every format reads through it (<see cref="SafetensorsFile"/>,
/// <see cref="Torch.TorchPickleFile"/>); thread-safe, each caller bringing its own scratch.
/// </summary>
internal static class PositionedTensorRead
{
    public static void Into(SafeFileHandle handle, string path, TensorInfo info, Tensor destination, byte[] scratch,
        long sliceBytes = TensorBytes.DefaultChunkBytes)
    {
        var from = info.DType;
        var to = destination.dtype;
        if (from == to)
        {
            TensorBytes.ForEachSlice(destination, sliceBytes, (offset, slice) =>
            {
                // In pieces, each populated before it is read into (FreshPages); in one read where it cannot be.
                if (!FreshPages.Enabled)
                {
                    Read(handle, path, info, offset, slice);
                    return;
                }
                for (var done = 0; done < slice.Length; done += FreshPages.PieceBytes)
                {
                    var piece = slice.Slice(done, Math.Min(FreshPages.PieceBytes, slice.Length - done));
                    FreshPages.Populate(piece);
                    Read(handle, path, info, offset + done, piece);
                }
            });
        }
        else if (FloatConversion.Supports(from, to))
        {
            if (scratch.Length < SafetensorsDTypes.ElementSize(from)) throw new ArgumentException("scratch is smaller than one element", nameof(scratch));
            var outSize = (int)destination.ElementSize;
            TensorBytes.ForEachSlice(destination, sliceBytes, (offset, slice) => ReadConverted(handle, path, info, offset / outSize, slice, to, scratch));
        }
        else
        {
            using var staged = torch.empty(destination.shape, from, torch.CPU);
            Into(handle, path, info, staged, scratch, sliceBytes);
            destination.copy_(staged);
        }
    }

    /// <summary>
    /// The tensor's elements from <paramref name="firstElement"/> on, as many as <paramref name="destination"/> holds
    /// of <paramref name="to"/> (a dtype <see cref="FloatConversion"/> converts the file's to): read through
    /// <paramref name="scratch"/> a chunk at a time and converted into place.
    /// </summary>
    internal static void ReadConverted(SafeFileHandle handle, string path, TensorInfo info, long firstElement, Span<byte> destination,
        ScalarType to, byte[] scratch)
    {
        var from = info.DType;
        var inSize = SafetensorsDTypes.ElementSize(from);
        var outSize = SafetensorsDTypes.ElementSize(to);
        var perStep = scratch.Length / inSize;
        if (perStep == 0) throw new ArgumentException("scratch is smaller than one element", nameof(scratch));
        var count = destination.Length / outSize;
        for (var done = 0; done < count; done += perStep)
        {
            var n = Math.Min(perStep, count - done);
            var source = scratch.AsSpan(0, n * inSize);
            Read(handle, path, info, (firstElement + done) * inSize, source);
            var output = destination.Slice(done * outSize, n * outSize);
            FreshPages.Populate(output);
            FloatConversion.Convert(source, from, output, to);
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
