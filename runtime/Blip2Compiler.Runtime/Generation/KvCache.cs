using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// Preallocated key/value cache of a decoder's self-attention layers: [rows, heads, capacity, headDim] per layer,
/// written in place step after step (no per-step reallocation), reordered in place for beam search.
/// </summary>
/// <remarks>
/// With <see cref="AttendWholeCapacity"/>, a one-position step (decoding) writes with one <c>index_copy_</c> per
/// buffer at a position kept on the device and hands attention the whole buffers: no narrowed views, two libtorch
/// calls per layer instead of seven. Attention then sees <see cref="Capacity"/> keys, so the caller's mask must cover
/// the capacity with the positions not written yet masked out (a causal mask over the capacity does it); their
/// weights are exactly zero, so the result is the same. Prompt steps (several positions) write and read the filled
/// part only.
/// </remarks>
public sealed class KvCache : IDisposable, Blip2Compiler.Nn.IAttentionCache
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    public KvCache(int layers, long rows, int heads, int capacity, int headDim, ScalarType dtype, Device device)
    {
        if (layers <= 0 || rows <= 0 || heads <= 0 || capacity <= 0 || headDim <= 0)
            throw new ArgumentOutOfRangeException(nameof(layers),
                $"KV cache dimensions must be positive: layers {layers}, rows {rows}, heads {heads}, capacity {capacity}, headDim {headDim}.");
        Capacity = capacity;
        Rows = rows;
        // Detached from any dispose scope: the cache lives as long as its decoding run, not as long as one step.
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        for (var layer = 0; layer < layers; layer++)
        {
            _keys[layer] = zeros(new[] { rows, heads, capacity, headDim }, dtype, device).DetachFromDisposeScope();
            _values[layer] = zeros(new[] { rows, heads, capacity, headDim }, dtype, device).DetachFromDisposeScope();
        }
    }

    /// <summary>Positions already cached.</summary>
    public int Length { get; private set; }

    public int Capacity { get; }

    public long Rows { get; }

    public int Layers => _keys.Length;

    /// <summary>One-position steps attend to the whole buffers (see the remarks); off by default.</summary>
    public bool AttendWholeCapacity { get; init; }

    // The write position of one-position steps, on the device (index_copy_ needs a tensor index): moved by Advance,
    // between steps, so a step's own ops carry no host position.
    private Tensor? _position;

    private Tensor Position => _position ??= zeros(new[] { 1L }, ScalarType.Int64, _keys[0].device).fill_(Length).DetachFromDisposeScope();

    /// <summary>The write position of one-position steps [1] (int64, on the device): <see cref="Length"/>, set by
    /// <see cref="Advance"/>. A static decoding step reads it (its mask column) so that it carries no host position.</summary>
    internal Tensor WritePosition => Position;

    /// <summary>Keys attention sees in a step of <paramref name="newPositions"/> positions.</summary>
    public long AttendedLength(long newPositions) =>
        newPositions == 1 && AttendWholeCapacity ? Capacity : Length + newPositions;

    /// <summary>
    /// Writes <paramref name="keys"/> / <paramref name="values"/> [rows, heads, n, headDim] at [Length, Length + n) of
    /// <paramref name="layer"/> and returns views [rows, heads, Length + n, headDim] of everything cached so far.
    /// Does not advance <see cref="Length"/>: call <see cref="Advance"/> once every layer has appended. With
    /// <see cref="AttendWholeCapacity"/> and one position, returns the whole buffers instead.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        if ((uint)layer >= (uint)_keys.Length)
            throw new ArgumentOutOfRangeException(nameof(layer), $"KV cache has {_keys.Length} layers; got layer {layer}.");
        var n = keys.shape[2];
        EnsureRoom(n);
        if (n == 1 && AttendWholeCapacity)
        {
            _keys[layer].index_copy_(2, Position, keys);
            _values[layer].index_copy_(2, Position, values);
            return (_keys[layer], _values[layer]);
        }
        _keys[layer].narrow(2, Length, n).copy_(keys);
        _values[layer].narrow(2, Length, n).copy_(values);
        return (_keys[layer].narrow(2, 0, Length + n), _values[layer].narrow(2, 0, Length + n));
    }

    /// <summary>Marks <paramref name="n"/> more positions as cached.</summary>
    public void Advance(int n)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"Cannot advance the KV cache by {n} positions.");
        EnsureRoom(n);
        Length += n;
        if (AttendWholeCapacity) Position.fill_(Length);
    }

    /// <summary>Keeps rows <paramref name="rowIndex"/> [Rows] (int64) of every layer, in that order, in place.</summary>
    public void Reorder(Tensor rowIndex)
    {
        if (rowIndex.dim() != 1 || rowIndex.shape[0] != Rows)
            throw new ArgumentException($"KV cache reorder expects [{Rows}] row indices, got [{string.Join(", ", rowIndex.shape)}].", nameof(rowIndex));
        if (Length == 0) return;
        using var scope = NewDisposeScope();
        var index = rowIndex.to(ScalarType.Int64, _keys[0].device);
        foreach (var buffer in _keys.Concat(_values))
        {
            var cached = buffer.narrow(2, 0, Length);
            cached.copy_(cached.index_select(0, index));
        }
    }

    public void Dispose()
    {
        foreach (var buffer in _keys.Concat(_values)) buffer.Dispose();
        _position?.Dispose();
    }

    private void EnsureRoom(long n)
    {
        if (Length + n > Capacity)
            throw new KvCacheFullException(Capacity, Length, n);
    }
}
