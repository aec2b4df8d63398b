using static TorchSharp.torch;

namespace Blip2Compiler.Serving;

/// <summary>
/// The continuous-batching engine's self-attention cache: [slots, heads, capacity, headDim] per layer, allocated once
/// for <see cref="Slots"/> rows, where every row has its own write position. Running rows sit in slots
/// [0, rows) (the engine compacts them when rows leave), so a step hands attention contiguous-row views and runs at
/// the batch size actually in use.
/// </summary>
/// <remarks>
/// A prefill (<see cref="BeginPrefill"/>) writes new rows' prompts at positions [0, n) of their slots. A decoding
/// step (<see cref="BeginStep"/>) writes each row's new key/value at that row's own position (a scatter along the
/// position axis) and attends to the first <c>window</c> positions of every row; what a row has not written (or an
/// earlier occupant left behind) is masked out by the caller's attention mask, so its weight is exactly zero.
/// </remarks>
internal sealed class SlotKvCache : Nn.IAttentionCache, IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly int _heads, _headDim;

    // The step's mode: prefill rows [_first, _first + _rows), or decode rows [0, _rows) at _writeIndex.
    private long _first, _rows, _window;
    private Tensor? _writeIndex;   // [rows, heads, 1, headDim] int64: each row's write position, expanded

    public SlotKvCache(int layers, int slots, int heads, int capacity, int headDim, ScalarType dtype, Device device)
    {
        if (layers <= 0 || slots <= 0 || heads <= 0 || capacity <= 0 || headDim <= 0)
            throw new ArgumentOutOfRangeException(nameof(layers),
                $"slot cache dimensions must be positive: layers {layers}, slots {slots}, heads {heads}, capacity {capacity}, headDim {headDim}.");
        Slots = slots;
        Capacity = capacity;
        _heads = heads;
        _headDim = headDim;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        for (var layer = 0; layer < layers; layer++)
        {
            _keys[layer] = zeros(new long[] { slots, heads, capacity, headDim }, dtype, device).DetachFromDisposeScope();
            _values[layer] = zeros(new long[] { slots, heads, capacity, headDim }, dtype, device).DetachFromDisposeScope();
        }
    }

    public int Slots { get; }

    /// <summary>Positions per row.</summary>
    public int Capacity { get; }

    public int Layers => _keys.Length;

    /// <summary>Bytes held by the key/value buffers.</summary>
    public long Bytes => _keys.Sum(k => k.NumberOfElements * k.ElementSize) * 2;

    /// <summary>The next appends write prompts of <paramref name="rows"/> rows into slots starting at <paramref name="first"/>.</summary>
    public void BeginPrefill(long first, long rows)
    {
        if (first < 0 || rows <= 0 || first + rows > Slots)
            throw new ArgumentOutOfRangeException(nameof(rows), $"slots [{first}, {first + rows}) are outside the cache's {Slots} slots.");
        ReleaseStep();
        (_first, _rows, _window) = (first, rows, 0);
    }

    /// <summary>
    /// The next appends write one position per row of slots [0, <paramref name="rows"/>), at
    /// <paramref name="positions"/> [rows] (int64, on the cache's device), and attend to positions [0, <paramref name="window"/>).
    /// </summary>
    public void BeginStep(long rows, Tensor positions, long window)
    {
        if (rows <= 0 || rows > Slots) throw new ArgumentOutOfRangeException(nameof(rows), $"{rows} rows do not fit the cache's {Slots} slots.");
        if (window <= 0 || window > Capacity) throw new ArgumentOutOfRangeException(nameof(window), $"window {window} is outside the cache's {Capacity} positions.");
        ReleaseStep();
        (_first, _rows, _window) = (0, rows, window);
        _writeIndex = positions.view(rows, 1, 1, 1).expand(rows, _heads, 1, _headDim).DetachFromDisposeScope();
    }

    /// <summary>Not meaningful per row (every row has its own); the engine builds positions and masks itself.</summary>
    public int Length => 0;

    public long AttendedLength(long newPositions) => _writeIndex is null ? newPositions : _window;

    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        if ((uint)layer >= (uint)_keys.Length)
            throw new ArgumentOutOfRangeException(nameof(layer), $"slot cache has {_keys.Length} layers; got layer {layer}.");
        var k = _keys[layer].narrow(0, _first, _rows);
        var v = _values[layer].narrow(0, _first, _rows);
        if (_writeIndex is null)
        {
            var n = keys.shape[2];
            if (n > Capacity) throw new Generation.KvCacheFullException(Capacity, 0, n);
            var kp = k.narrow(2, 0, n);
            var vp = v.narrow(2, 0, n);
            kp.copy_(keys);
            vp.copy_(values);
            return (kp, vp);
        }
        k.scatter_(2, _writeIndex, keys);
        v.scatter_(2, _writeIndex, values);
        return (k.narrow(2, 0, _window), v.narrow(2, 0, _window));
    }

    /// <summary>Views of slots [0, <paramref name="rows"/>)' first <paramref name="positions"/> positions of a layer: what
    /// was written at admission and is only read afterwards (T5's cross-attention keys/values, one set per slot).</summary>
    public (Tensor Keys, Tensor Values) Read(int layer, long rows, long positions) =>
        (_keys[layer].narrow(0, 0, rows).narrow(2, 0, positions), _values[layer].narrow(0, 0, rows).narrow(2, 0, positions));

    /// <summary>
    /// Moves rows: slot <paramref name="to"/>[i] takes the first <paramref name="positions"/> positions of slot
    /// <paramref name="from"/>[i] (the sources are read before any is written, so the lists may overlap).
    /// </summary>
    public void Move(Tensor from, Tensor to, long positions)
    {
        if (positions <= 0) return;
        using var scope = NewDisposeScope();
        foreach (var buffer in _keys.Concat(_values))
        {
            var used = buffer.narrow(2, 0, positions);
            used.index_copy_(0, to, used.index_select(0, from));
        }
    }

    private void ReleaseStep()
    {
        _writeIndex?.Dispose();
        _writeIndex = null;
    }

    public void Dispose()
    {
        ReleaseStep();
        foreach (var buffer in _keys.Concat(_values)) buffer.Dispose();
    }
}
