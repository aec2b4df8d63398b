using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn;

/// <summary>
/// What a forward pass carries besides tensors: the layer being run (for the KV cache), the cache itself,
/// cross-attention keys/values kept across decoding steps, and the optional per-layer outputs.
/// </summary>
public sealed class ForwardContext
{
    private readonly Dictionary<int, (Tensor, Tensor)> _memo = new();

    /// <summary>Index of the layer running now; set by the generated layer loops.</summary>
    public int Layer { get; set; }

    /// <summary>Self-attention cache of a decoding run (null: no cache, attend to the inputs only).</summary>
    public IAttentionCache? Cache { get; init; }

    public bool OutputHiddenStates { get; init; }
    public bool OutputAttentions { get; init; }
    public List<Tensor> HiddenStates { get; } = new();
    public List<Tensor> Attentions { get; } = new();
    /// <summary>Cross-attention probabilities (attentions whose graph line says <c>cross = true</c>), apart from
    /// <see cref="Attentions"/> as Hugging Face's <c>cross_attentions</c>.</summary>
    public List<Tensor> CrossAttentions { get; } = new();

    /// <summary>Writes this step's keys/values into the cache and returns everything cached for the layer.</summary>
    public (Tensor Keys, Tensor Values) AppendToCache(Tensor keys, Tensor values) =>
        Cache is null ? (keys, values) : Cache.Append(Layer, keys, values);

    /// <summary>
    /// A decoding step's query position (int64, on the device): when set, one-position steps take it instead of
    /// <see cref="PastLength"/> (causal mask, T5's position bias). [1], one for every row: the static step's (the
    /// cache's write position), so the step's ops carry no host position and can be captured once and replayed; or
    /// [rows], one per row: the serving engine's rows, each at its own position.
    /// </summary>
    public Tensor? StepPosition { get; init; }

    /// <summary>Position of the first new token (tokens already in the cache).</summary>
    public long PastLength => Cache?.Length ?? 0;

    /// <summary>Keys self-attention sees for <paramref name="newPositions"/> new positions: those plus the cached
    /// ones, or a whole-capacity cache's capacity (masks and position biases must span it).</summary>
    public long AttendedLength(long newPositions) => Cache?.AttendedLength(newPositions) ?? newPositions;

    /// <summary>Computes per layer once and reuses it for the rest of the run (T5 cross-attention keys/values).</summary>
    public (Tensor, Tensor) Memo(Func<(Tensor, Tensor)> compute)
    {
        if (_memo.TryGetValue(Layer, out var kept)) return kept;
        var (a, b) = compute();
        a = a.DetachFromDisposeScope();
        b = b.DetachFromDisposeScope();
        _memo[Layer] = (a, b);
        return (a, b);
    }

    /// <summary>What <see cref="Memo"/> kept, per layer in layer order (the serving engine copies T5's cross-attention
    /// keys/values of newly admitted rows into their slots).</summary>
    internal IEnumerable<(int Layer, Tensor First, Tensor Second)> Memoized =>
        _memo.OrderBy(m => m.Key).Select(m => (m.Key, m.Value.Item1, m.Value.Item2));

    /// <summary>Gives a layer's memo from outside, so <see cref="Memo"/> returns it without computing (the serving
    /// engine's rows: their slots' cross-attention keys/values). The caller owns the tensors.</summary>
    internal void Remember(int layer, Tensor first, Tensor second) => _memo[layer] = (first, second);

    /// <summary>
    /// Frees the memoized tensors now: a decoding session ends its run with them, an admission its encoding's (they are detached from every
    /// dispose scope, so nothing else frees them but the finalizer: 4 tensors per tiny Flan-T5 run, 2 per layer).
    /// </summary>
    internal void ReleaseMemo()
    {
        foreach (var (a, b) in _memo.Values)
        {
            a.Dispose();
            b.Dispose();
        }
        _memo.Clear();
    }

    /// <summary>Reorders memoized rows in place (beam search on a static step: the buffers keep their addresses).</summary>
    internal void ReorderMemoInPlace(Tensor rowIndex)
    {
        foreach (var (a, b) in _memo.Values)
        {
            a.copy_(a.index_select(0, rowIndex));
            b.copy_(b.index_select(0, rowIndex));
        }
    }

    /// <summary>Reorders memoized rows (beam search).</summary>
    public void ReorderMemo(Tensor rowIndex)
    {
        foreach (var layer in _memo.Keys.ToList())
        {
            var (a, b) = _memo[layer];
            _memo[layer] = (a.index_select(0, rowIndex).DetachFromDisposeScope(), b.index_select(0, rowIndex).DetachFromDisposeScope());
            a.Dispose(); b.Dispose();
        }
    }

    private Tensor? _maskSource;
    private (Tensor Additive, Tensor? FullyMasked) _prepared;
    private bool _ownsAdditive;
    private torch.ScalarType _preparedDType;   // kept here: reading it off the tensor is a native call per layer

    /// <summary>Frees the prepared mask now (a context that outlives many forwards, or one about to be dropped).</summary>
    internal void ReleasePrepared()
    {
        if (_maskSource is null) return;
        if (_ownsAdditive) _prepared.Additive.Dispose();
        _prepared.FullyMasked?.Dispose();
        _maskSource = null;
    }

    /// <summary>
    /// The attention mask in the attention dtype and its rows that see nothing, computed once per mask: every
    /// layer of a stack gets the same mask object, so the conversion and the scan run once per forward.
    /// </summary>
    public (Tensor Additive, Tensor? FullyMasked) PrepareMask(Tensor mask, torch.ScalarType dtype,
        Func<Tensor, torch.ScalarType, Tensor> convert, Func<Tensor, torch.ScalarType, Tensor?> fullyMasked)
    {
        if (!ReferenceEquals(mask, _maskSource) || _preparedDType != dtype)
        {
            // Kept across layers, whose dispose scopes end one by one: what is made here outlives them and is freed
            // when the next mask replaces it. The caller's own mask (already in the right dtype) is never taken.
            ReleasePrepared();
            var additive = convert(mask, dtype);
            var rows = fullyMasked(additive, dtype);
            _ownsAdditive = !ReferenceEquals(additive, mask);
            if (_ownsAdditive) additive.DetachFromDisposeScope();
            rows?.DetachFromDisposeScope();
            _prepared = (additive, rows);
            _preparedDType = dtype;
            _maskSource = mask;
        }
        return _prepared;
    }

    public void RecordHidden(Tensor hidden)
    {
        if (OutputHiddenStates) HiddenStates.Add(hidden.alias().DetachFromDisposeScope());
    }

    public void RecordAttention(Tensor probabilities, bool cross = false)
    {
        if (OutputAttentions) (cross ? CrossAttentions : Attentions).Add(probabilities.DetachFromDisposeScope());
    }
}

/// <summary>A per-layer key/value store that attention appends to (Blip2Compiler.Generation.KvCache).</summary>
public interface IAttentionCache
{
    int Length { get; }
    long AttendedLength(long newPositions);
    (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values);
}
