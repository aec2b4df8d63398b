using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// One weights file of a checkpoint, whatever its format (<see cref="SafetensorsFile"/>,
/// <see cref="Torch.TorchPickleFile"/>): every entry validated when it is opened, each tensor read only when asked,
/// with positioned reads, so <see cref="Checkpoint"/> and <see cref="CheckpointLoader"/> treat every format alike.
/// </summary>
internal interface ICheckpointFile : IDisposable
{
    string Path { get; }

    IReadOnlyCollection<string> Keys { get; }

    bool Contains(string name);

    TensorInfo Info(string name);

    Tensor Load(string name, ScalarType? dtype = null, Device? device = null);

    /// <summary>Fills a contiguous CPU destination of the tensor's element count, converting a float dtype on the
    /// way; thread-safe, each caller bringing its own scratch.</summary>
    void ReadInto(TensorInfo info, Tensor destination, byte[] scratch);

    /// <summary>The tensor as it lies in the file, mapped (<see cref="MappedTensor"/>: a CPU tensor of the file's dtype
    /// over the file's pages), or null when it cannot be.</summary>
    Tensor? TryMap(TensorInfo info);

    /// <summary>Whether <see cref="ReadElements"/> can deliver this tensor in <paramref name="to"/> (a part of it at a
    /// time, for quantizing while reading); otherwise the loader reads it whole.</summary>
    bool CanReadElements(TensorInfo info, ScalarType to);

    /// <summary>Fills <paramref name="destination"/> with the tensor's elements from <paramref name="firstElement"/> on,
    /// in <paramref name="to"/>.</summary>
    void ReadElements(TensorInfo info, long firstElement, Span<byte> destination, ScalarType to, byte[] scratch);

    /// <summary>Drops the file's pages in [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>)
    /// (length 0: to the end) from the page cache, those no process maps (<see cref="FileCache"/>).</summary>
    void DropCached(long offset, long length);
}
