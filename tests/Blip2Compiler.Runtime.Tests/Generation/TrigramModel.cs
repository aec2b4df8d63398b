using Blip2Compiler.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

/// <summary>
/// A deterministic toy language model for the engine: the next-token logits of a row are a fixed table entry chosen
/// by the row's last two ids. The ids live in a <see cref="KvCache"/> (as one-dimensional "keys"), so a wrong cache
/// reorder in beam search changes the logits, as it would in a real model.
/// </summary>
internal sealed class TrigramModel
{
    public TrigramModel(Tensor table) => Table = table.to(ScalarType.Float32);

    /// <summary>Random logits, scaled so that distributions are neither flat nor one-hot.</summary>
    public static TrigramModel Random(int vocab, long seed, float scale = 3f)
    {
        var generator = new Generator((ulong)seed);
        return new TrigramModel(randn(new long[] { vocab, vocab, vocab }, generator: generator) * scale);
    }

    /// <summary>[vocab (id before last), vocab (last id), vocab (next)].</summary>
    public Tensor Table { get; }

    public int Vocab => (int)Table.shape[0];

    /// <summary>Next calls made by all sessions (prefill included).</summary>
    public int Steps { get; private set; }

    public DecoderFactory Factory(Tensor contextIds) =>
        (rowsPerInput, maxNewTokens) => new Session(this, contextIds.repeat_interleave(rowsPerInput, 0), maxNewTokens);

    /// <summary>The logits after <paramref name="ids"/> (host side, for reference computations).</summary>
    public float[] Logits(IReadOnlyList<long> ids)
    {
        var last = ids[^1];
        var before = ids.Count > 1 ? ids[^2] : 0;
        return Table[before, last].data<float>().ToArray();
    }

    /// <summary>Log-softmax of <see cref="Logits"/>, computed by torch in float32 as the engine does.</summary>
    public float[] LogProbs(IReadOnlyList<long> ids)
    {
        var last = ids[^1];
        var before = ids.Count > 1 ? ids[^2] : 0;
        return Table[before, last].log_softmax(-1).data<float>().ToArray();
    }

    private sealed class Session(TrigramModel model, Tensor context, int maxNewTokens) : IDecoderSession
    {
        private readonly KvCache _cache = new(1, context.shape[0], 1, (int)context.shape[1] + maxNewTokens, 1, ScalarType.Float64, CPU);

        public long Rows => context.shape[0];

        public Tensor Next(Tensor? tokens)
        {
            model.Steps++;
            var ids = tokens ?? context;
            var asKeys = ids.to(ScalarType.Float64).view(Rows, 1, ids.shape[1], 1);
            var (keys, _) = _cache.Append(0, asKeys, asKeys);
            _cache.Advance((int)ids.shape[1]);
            var history = keys.view(Rows, -1).to(ScalarType.Int64);
            var length = history.shape[1];
            var last = history.select(1, length - 1);
            var before = length > 1 ? history.select(1, length - 2) : zeros_like(last);
            var vocab = model.Vocab;
            return model.Table.view(vocab * vocab, vocab).index_select(0, before * vocab + last);
        }

        public void Reorder(Tensor rowIndex) => _cache.Reorder(rowIndex);

        public void Dispose() => _cache.Dispose();
    }
}
