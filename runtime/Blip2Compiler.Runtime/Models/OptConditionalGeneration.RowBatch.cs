using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using Blip2Compiler.Serving;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

public abstract partial class OptConditionalGeneration
{
    /// <summary>The continuous-batching engine's rows on this model: <paramref name="slots"/> rows of
    /// <paramref name="capacity"/> positions, allocated now.</summary>
    internal override IRowBatch NewRowBatch(int slots, int capacity) => new OptRowBatch(this, slots, capacity);

    /// <summary>
    /// OPT rows with per-row positions: each slot has its own mask row [capacity] (1 for real tokens) and write
    /// position. A step's token positions follow the OPT rule per row (opt.graph's, as <see cref="NewestPositions"/>), its attention mask is each row's own padding mask, and its keys/values are written
    /// at each row's own position (<see cref="SlotKvCache"/>).
    /// </summary>
    private sealed class OptRowBatch : IRowBatch
    {
        private readonly OptConditionalGeneration _model;
        private readonly SlotKvCache _cache;
        private readonly ForwardContext _stepContext;
        private readonly Tensor _mask;       // [slots, capacity] int64
        private readonly Tensor _one;        // [slots, 1] int64 ones, the value a step writes into the mask
        private readonly long[] _written;    // positions written per slot (host)
        private static readonly long[] LengthDim = [1];

        public OptRowBatch(OptConditionalGeneration model, int slots, int capacity)
        {
            _model = model;
            _cache = new SlotKvCache((int)model.ModelInfo.TextLayers, slots, (int)model.ModelInfo.TextHeads, capacity,
                (int)model.ModelInfo.TextHeadDim, model.DType, model.Device);
            _stepContext = new ForwardContext { Cache = _cache };
            _mask = torch.zeros(slots, capacity, dtype: ScalarType.Int64, device: model.Device).DetachFromDisposeScope();
            _one = torch.ones(slots, 1, dtype: ScalarType.Int64, device: model.Device).DetachFromDisposeScope();
            _written = new long[slots];
        }

        public int Slots => _cache.Slots;
        public int Capacity => _cache.Capacity;
        public int Rows { get; private set; }

        public int PromptPositions(long[] promptIds) => checked((int)_model.PromptPositions(promptIds.Length));

        public long[] ContextIds(long[] promptIds, GenerationOptions settings) => promptIds;

        public void CheckFits(long[] promptIds, int maxNewTokens)
        {
            var positions = PromptPositions(promptIds);
            if (positions + maxNewTokens > Capacity) throw new EngineSequenceTooLongException(positions, maxNewTokens, Capacity);
        }

        public Tensor Admit(IReadOnlyList<RowPrompt> prompts)
        {
            var added = prompts.Sum(p => p.Copies);
            if (prompts.Count == 0 || Rows + added > Slots)
                throw new InvalidOperationException($"{added} new rows do not fit beside {Rows} running ones in {Slots} slots");
            using var scope = NewDisposeScope();
            var ctx = new ForwardContext();
            // The model's own encoding (what a lone Generate runs), once for every joining request's image.
            var projected = _model.EncodeImages(ctx, prompts.Count == 1 ? prompts[0].Pixels : torch.cat(prompts.Select(p => p.Pixels).ToArray(), 0));
            var logits = new List<Tensor>();
            var slot = Rows;
            // Prompts of one length prefill together, without padding: each row computes what a lone run computes.
            for (var first = 0; first < prompts.Count;)
            {
                var end = first + 1;
                while (end < prompts.Count && prompts[end].Ids.Length == prompts[first].Ids.Length) end++;
                logits.Add(Prefill(prompts, first, end, projected, ref slot));
                first = end;
            }
            Rows = slot;
            return torch.cat(logits, 0).MoveToOuterDisposeScope();
        }

        private Tensor Prefill(IReadOnlyList<RowPrompt> prompts, int first, int end, Tensor projected, ref int slot)
        {
            var count = end - first;
            var length = prompts[first].Ids.Length;
            var flat = new long[count * length];
            for (var i = 0; i < count; i++) prompts[first + i].Ids.CopyTo(flat, i * length);
            var ids = torch.tensor(flat, new long[] { count, length }, ScalarType.Int64, _model.Device);
            var ctx = new ForwardContext();
            var (embeds, mask) = _model.BuildInputs(ctx, projected.narrow(0, first, count), ids, torch.ones_like(ids), null);
            if (Enumerable.Range(first, count).Any(i => prompts[i].Copies != 1))
            {
                // num_return_sequences: each prompt's rows adjacent, as Hugging Face's repeat_interleave.
                var repeat = Enumerable.Range(0, count).SelectMany(i => Enumerable.Repeat((long)i, prompts[first + i].Copies)).ToArray();
                var index = torch.tensor(repeat, ScalarType.Int64, _model.Device);
                embeds = embeds.index_select(0, index);
                mask = mask.index_select(0, index);
            }
            var rows = embeds.shape[0];
            var positions = embeds.shape[1];
            if (positions > Capacity) throw new KvCacheFullException(Capacity, 0, positions);
            _cache.BeginPrefill(slot, rows);
            var prefill = new ForwardContext { Cache = _cache };
            var hidden = _model.DecoderForward(prefill, embeds, _model.Positions(mask, 0), Ops.CausalMask(mask, positions, 0));
            var logits = _model.Logits(prefill, hidden.select(1, -1)).to_type(ScalarType.Float32);
            prefill.ReleasePrepared();
            var rowsMask = _mask.narrow(0, slot, rows);
            rowsMask.zero_();
            rowsMask.narrow(1, 0, positions).copy_(mask);
            for (var r = 0; r < rows; r++) _written[slot + r] = positions;
            slot += (int)rows;
            return logits;
        }

        public Tensor Step(ReadOnlySpan<long> tokens)
        {
            var rows = Rows;
            if (tokens.Length != rows) throw new ArgumentException($"{tokens.Length} tokens for {rows} running rows", nameof(tokens));
            long longest = 0;
            for (var r = 0; r < rows; r++)
            {
                if (_written[r] >= Capacity) throw new KvCacheFullException(Capacity, (int)_written[r], 1);
                longest = Math.Max(longest, _written[r]);
            }
            var window = RowCompaction.Window(longest, Capacity);
            using var scope = NewDisposeScope();
            var device = _model.Device;
            var input = torch.tensor(tokens.ToArray(), new long[] { rows, 1 }, ScalarType.Int64, device);
            var at = torch.tensor(_written.AsSpan(0, rows).ToArray(), ScalarType.Int64, device);
            var mask = _mask.narrow(0, 0, rows);
            mask.scatter_(1, at.unsqueeze(1), _one.narrow(0, 0, rows));
            var seen = mask.narrow(1, 0, window);
            // The new token's position: the graph's rule (OPTLearnedPositionalEmbedding) at its column, the row's largest.
            var positions = _model.NewestPositions(seen);
            _cache.BeginStep(rows, at, window);
            var hidden = _model.DecoderForward(_stepContext, _model.EmbedTokens(_stepContext, input), positions, Ops.PaddingMask(seen));
            for (var r = 0; r < rows; r++) _written[r]++;
            return _model.Logits(_stepContext, hidden.select(1, -1)).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
        }

        public void Keep(IReadOnlyList<int> rows)
        {
            var (from, to) = RowCompaction.Moves(rows, Rows);
            if (from.Length > 0)
            {
                using var scope = NewDisposeScope();
                var source = torch.tensor(from, ScalarType.Int64, _model.Device);
                var target = torch.tensor(to, ScalarType.Int64, _model.Device);
                _cache.Move(source, target, from.Max(r => _written[r]));
                _mask.index_copy_(0, target, _mask.index_select(0, source));
                for (var i = 0; i < from.Length; i++) _written[to[i]] = _written[from[i]];
            }
            Rows = rows.Count;
        }

        public void Dispose()
        {
            _stepContext.ReleasePrepared();
            _cache.Dispose();
            _mask.Dispose();
            _one.Dispose();
        }
    }
}
