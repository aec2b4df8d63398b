using System.Text.Json;
using Blip2Compiler.Checkpoints.Torch;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// A Hugging Face checkpoint's weights: one <c>model.safetensors</c> or <c>pytorch_model.bin</c>, or shards listed by
/// <c>model.safetensors.index.json</c> / <c>pytorch_model.bin.index.json</c> (its <c>weight_map</c> maps each key to a
/// shard file). Opening validates every header (every pickle, for torch.save files) and that the index and the shards
/// agree; tensors are read only when loaded.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";
    public const string PyTorchFileName = "pytorch_model.bin";
    public const string PyTorchIndexFileName = "pytorch_model.bin.index.json";

    private readonly Dictionary<string, ICheckpointFile> _fileOf;
    private readonly List<ICheckpointFile> _files;

    private Checkpoint(string source, List<ICheckpointFile> files, Dictionary<string, ICheckpointFile> fileOf)
    {
        Source = source;
        _files = files;
        _fileOf = fileOf;
    }

    /// <summary>The folder, file or index this checkpoint was opened from.</summary>
    public string Source { get; }

    public IReadOnlyList<string> Files => _files.Select(f => f.Path).ToList();

    public IReadOnlyCollection<string> Keys => _fileOf.Keys;

    public bool Contains(string key) => _fileOf.ContainsKey(key);

    public TensorInfo Info(string key) => File(key).Info(key);

    public Tensor Load(string key, ScalarType? dtype = null, Device? device = null) => File(key).Load(key, dtype, device);

    /// <summary>Reads a tensor into a contiguous CPU destination of its element count (see
    /// <see cref="SafetensorsFile.ReadInto"/>).</summary>
    internal void ReadInto(string key, Tensor destination, byte[] scratch)
    {
        var file = File(key);
        file.ReadInto(file.Info(key), destination, scratch);
    }

    /// <summary>The tensor over its bytes in the file (<see cref="MappedTensor"/>), or null when it is not mapped.</summary>
    internal Tensor? TryMap(string key)
    {
        var file = File(key);
        return file.TryMap(file.Info(key));
    }

    /// <summary>Whether the tensor under <paramref name="key"/> can be read a part at a time in <paramref name="to"/>
    /// (see <see cref="ICheckpointFile.CanReadElements"/>).</summary>
    internal bool CanReadElements(string key, ScalarType to)
    {
        var file = File(key);
        return file.CanReadElements(file.Info(key), to);
    }

    /// <summary>Reads part of a tensor, from its element <paramref name="firstElement"/> (see
    /// <see cref="ICheckpointFile.ReadElements"/>).</summary>
    internal void ReadElements(string key, long firstElement, Span<byte> destination, ScalarType to, byte[] scratch)
    {
        var file = File(key);
        file.ReadElements(file.Info(key), firstElement, destination, to, scratch);
    }

    /// <summary>Drops the tensor's bytes from the page cache once it has been read (<see cref="FileCache"/>).</summary>
    internal void DropCached(string key)
    {
        var file = File(key);
        var info = file.Info(key);
        if (info.ByteLength > 0) file.DropCached(info.DataOffset, info.ByteLength);
    }

    /// <summary>Drops the checkpoint's tensors from the page cache, all but those at <paramref name="kept"/> positions
    /// (<see cref="Position"/>: what zero-copy parameters map, and every key over the same bytes): each run of
    /// neighbouring tensors in a file in one range, so the folios two of them share go too (<see cref="FileCache"/>).</summary>
    internal void DropCachedExcept(IReadOnlySet<(int File, long Offset)> kept)
    {
        for (var index = 0; index < _files.Count; index++)
        {
            var file = _files[index];
            // The first run from the file's start (its header), the last to its end: a folio that holds the file's
            // first or last byte may reach past the first or last tensor.
            long start = -1, end = -1;
            var first = true;
            foreach (var info in file.Keys.Select(file.Info).OrderBy(i => i.DataOffset))
            {
                if (kept.Contains((index, info.DataOffset)))
                {
                    if (start >= 0 && end > start) file.DropCached(start, end - start);
                    start = -1;
                    first = false;
                    continue;
                }
                if (start < 0) start = first ? 0 : info.DataOffset;
                end = Math.Max(end, info.DataOffset + info.ByteLength);
            }
            if (start >= 0) file.DropCached(start, 0);
        }
    }

    /// <summary>Where a tensor's bytes lie, for reading in file order: the file's place in <see cref="Files"/>, then
    /// the byte offset.</summary>
    internal (int File, long Offset) Position(string key) => (_files.IndexOf(File(key)), Info(key).DataOffset);

    /// <summary>
    /// Opens a checkpoint folder, a weights file (<c>.safetensors</c>; <c>.bin</c>, <c>.pt</c>, <c>.pth</c> from
    /// <c>torch.save</c>) or an index file. In a folder the first present of <c>model.safetensors</c>,
    /// <c>model.safetensors.index.json</c>, <c>pytorch_model.bin</c>, <c>pytorch_model.bin.index.json</c> is read, as
    /// transformers' <c>from_pretrained</c> prefers them. A folder with only TensorFlow or Flax weights, or a
    /// torch.save file of torch &lt; 1.6, is an <see cref="UnsupportedCheckpointFormatException"/> naming the file.
    /// </summary>
    public static Checkpoint Open(string path)
    {
        if (System.IO.File.Exists(path))
            return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? OpenIndex(path) : OpenSingle(path);
        if (!Directory.Exists(path))
            throw new CheckpointFormatException(path, "no such checkpoint folder or file");
        foreach (var name in new[] { SingleFileName, IndexFileName, PyTorchFileName, PyTorchIndexFileName })
        {
            var candidate = Path.Combine(path, name);
            if (System.IO.File.Exists(candidate)) return Open(candidate);
        }
        if (OtherFormat(path) is { } other) throw new UnsupportedCheckpointFormatException(other.File, other.Format);
        var loose = Directory.EnumerateFiles(path).Where(IsPickle).Order(StringComparer.Ordinal).FirstOrDefault();
        throw new CheckpointFormatException(path, $"holds none of {SingleFileName}, {IndexFileName}, {PyTorchFileName}, {PyTorchIndexFileName}"
            + (loose is null ? "" : $" (it holds {Path.GetFileName(loose)}: pass that file itself)"));
    }

    private static bool IsPickle(string file) =>
        file.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
        || file.EndsWith(".pth", StringComparison.OrdinalIgnoreCase);

    /// <summary>Weights in a format that is not read, as Hugging Face names them.</summary>
    private static (string File, string Format)? OtherFormat(string folder)
    {
        (string Name, string Format)[] known = [("tf_model.h5", "TensorFlow (tf_model.h5)"), ("flax_model.msgpack", "Flax (flax_model.msgpack)")];
        foreach (var (name, format) in known)
            if (System.IO.File.Exists(Path.Combine(folder, name))) return (Path.Combine(folder, name), format);
        return null;
    }

    /// <summary>One weights file, by its name: torch.save's <c>.bin</c>/<c>.pt</c>/<c>.pth</c>, else safetensors.</summary>
    private static ICheckpointFile OpenFile(string path) => IsPickle(path) ? TorchPickleFile.Open(path) : SafetensorsFile.Open(path);

    public void Dispose()
    {
        foreach (var file in _files) file.Dispose();
    }

    private ICheckpointFile File(string key) =>
        _fileOf.TryGetValue(key, out var file) ? file : throw new KeyNotFoundException($"{Source}: no tensor '{key}'");

    private static Checkpoint OpenSingle(string path)
    {
        var file = OpenFile(path);
        return new Checkpoint(path, [file], file.Keys.ToDictionary(k => k, _ => file, StringComparer.Ordinal));
    }

    private static Checkpoint OpenIndex(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var files = new List<ICheckpointFile>();
        try
        {
            var byName = new Dictionary<string, ICheckpointFile>(StringComparer.Ordinal);
            foreach (var shardName in weightMap.Values.Distinct().Order(StringComparer.Ordinal))
            {
                var shardPath = Path.GetFullPath(Path.Combine(folder, shardName));
                if (!shardPath.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new CheckpointFormatException(indexPath, $"shard '{shardName}' lies outside the checkpoint folder");
                if (!System.IO.File.Exists(shardPath))
                    throw new CheckpointFormatException(indexPath, $"shard '{shardName}' is missing (expected at {shardPath})");
                var shard = OpenFile(shardPath);
                files.Add(shard);
                byName[shardName] = shard;
            }

            var fileOf = new Dictionary<string, ICheckpointFile>(StringComparer.Ordinal);
            foreach (var (key, shardName) in weightMap)
            {
                var shard = byName[shardName];
                if (!shard.Contains(key))
                    throw new CheckpointFormatException(indexPath, $"the index puts '{key}' in shard '{shardName}', which does not hold it");
                fileOf[key] = shard;
            }
            foreach (var (shardName, shard) in byName)
            {
                foreach (var key in shard.Keys)
                {
                    if (!weightMap.TryGetValue(key, out var listed))
                        throw new CheckpointFormatException(indexPath, $"shard '{shardName}' holds '{key}', which the index does not list");
                    if (listed != shardName)
                        throw new CheckpointFormatException(indexPath, $"shard '{shardName}' holds '{key}', which the index puts in '{listed}'");
                }
            }
            return new Checkpoint(indexPath, files, fileOf);
        }
        catch
        {
            foreach (var file in files) file.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            using var document = JsonFiles.ParseStrict(System.IO.File.ReadAllBytes(indexPath));
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(indexPath, "index has no 'weight_map' object");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(entry.Value.GetString()))
                    throw new CheckpointFormatException(indexPath, $"weight_map entry '{entry.Name}' is not a shard file name");
                if (!weightMap.TryAdd(entry.Name, entry.Value.GetString()!))
                    throw new CheckpointFormatException(indexPath, $"weight_map lists '{entry.Name}' twice");
            }
            return weightMap;
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(indexPath, "index is not valid JSON: " + e.Message, e);
        }
        catch (IOException e)
        {
            throw new CheckpointFormatException(indexPath, "cannot be read: " + e.Message, e);
        }
    }
}
