using System.Collections.Concurrent;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// What of a checkpoint a load may let go of, and when (<see cref="CheckpointReadOptions.KeepFileCache"/> off): each
/// tensor's bytes leave the page cache once the last parameter that reads them is built (one, unless two parameters
/// share a key, or two keys one torch.save storage, as tied tables may: so none reads them back from disk), and,
/// when the load is done, everything but what zero-copy parameters map (<see cref="FileCache"/>: why, with the
/// numbers). Bytes are told apart by where they lie (<see cref="Checkpoint.Position"/>). Thread-safe: the loader
/// threads report their parameters as they build them.
/// </summary>
internal sealed class SourceRelease
{
    private readonly Checkpoint _checkpoint;
    private readonly ConcurrentDictionary<(int File, long Offset), int> _readers = new();

    /// <summary>Bytes a zero-copy parameter maps: never advised away (the kernel would keep their pages, but would also
    /// move them to its inactive list, the first to be reclaimed).</summary>
    private readonly ConcurrentDictionary<(int File, long Offset), bool> _mapped = new();

    public SourceRelease(Checkpoint checkpoint, IEnumerable<ParamSource> sources)
    {
        _checkpoint = checkpoint;
        foreach (var source in sources)
            foreach (var key in source.Keys) _readers.AddOrUpdate(checkpoint.Position(key), 1, (_, n) => n + 1);
    }

    /// <summary>A parameter is built from <paramref name="source"/> (<paramref name="mapped"/>: it is those bytes,
    /// mapped): the keys no other parameter still reads leave the cache, unless mapped.</summary>
    public void Built(ParamSource source, bool mapped)
    {
        var positions = source.Keys.Select(_checkpoint.Position).ToList();
        if (mapped)
            foreach (var position in positions) _mapped[position] = true;
        for (var i = 0; i < positions.Count; i++)
            if (_readers.AddOrUpdate(positions[i], 0, (_, n) => n - 1) == 0 && !_mapped.ContainsKey(positions[i]))
                _checkpoint.DropCached(source.Keys[i]);
    }

    /// <summary>The load is done: what the drops per parameter left (folios that straddle two tensors, keys the model
    /// does not use) leaves too, all but the mapped bytes.</summary>
    public void Finish() => _checkpoint.DropCachedExcept(_mapped.Keys.ToHashSet());
}
