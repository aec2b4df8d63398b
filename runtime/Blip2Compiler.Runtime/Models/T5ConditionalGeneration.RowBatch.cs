using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using Blip2Compiler.Serving;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

public abstract partial class T5ConditionalGeneration
{
    internal override IRowBatch NewRowBatch(int slots, int capacity) => new T5RowBatch(this, slots, capacity);

    /// <summary>
    /// Flan-T5 rows with per-row positions. A slot holds its request's encoder side, made once when it joins — the
    /// encoder states, the encoder mask (1 on its own prompt's positions) and every decoder layer's cross-attention
    /// keys/values — and its decoder's self-attention cache, written at the row's own position
    /// (<see cref="SlotKvCache"/>). Admission runs what a lone <c>Generate</c> runs for the request (the encoder over
    /// the prompt with the image queries, then the first decoder step from decoder_start_token_id, which computes the
    /// cross-attention keys/values); a step hands the decoder each row's position
    /// (<see cref="ForwardContext.StepPosition"/> [rows]), so its causal mask and relative position bias are the row's
    /// own, and the slots' cross-attention keys/values as the context's memo, so they are not computed again.
    /// </summary>
    /// <remarks>
    /// Rows of different encoder lengths share a step: each attends to the first <c>encoderWindow</c> positions of
    /// every slot (the longest running prompt's), and its encoder mask weighs the others (padding, or what an earlier
    /// occupant left) exactly zero. The buffers take the dtypes a lone run's take (its self-attention cache the encoder
    /// states', the cross-attention keys/values those the layers compute), so they are made at the first admission,
    /// once, for every slot.
    /// </remarks>
    private sealed class T5RowBatch : IRowBatch
    {
        private readonly T5ConditionalGeneration _model;
        private readonly int _slots;
        private SlotKvCache? _self;      // decoder self-attention: [slots, heads, capacity, d_kv] per layer
        private SlotKvCache? _cross;     // cross-attention keys/values over each slot's encoder positions
        private Tensor? _encoder;        // [slots, capacity, d_model] encoder states
        private Tensor? _encoderMask;    // [slots, capacity] int64: 1 on each slot's encoder positions
        private readonly Tensor _ones;   // [slots, capacity] int64: every decoded position is real (the causal mask hides the rest)
        private readonly long[] _written;   // decoder positions written per slot (host)
        private readonly long[] _encoded;   // encoder positions per slot (host)

        public T5RowBatch(T5ConditionalGeneration model, int slots, int capacity)
        {
            if (slots <= 0 || capacity <= 0)
                throw new ArgumentOutOfRangeException(nameof(slots), $"T5 rows need positive slots and capacity: slots {slots}, capacity {capacity}.");
            _model = model;
            _slots = slots;
            Capacity = capacity;
            _ones = torch.ones(slots, capacity, dtype: ScalarType.Int64, device: model.Device).DetachFromDisposeScope();
            _written = new long[slots];
            _encoded = new long[slots];
        }

        public int Slots => _slots;

        /// <summary>Positions of a slot, on each side: the encoder's prompt, the decoder's start token + new tokens.</summary>
        public int Capacity { get; }

        public int Rows { get; private set; }

        public int PromptPositions(long[] promptIds) => checked((int)_model.PromptPositions(promptIds.Length));

        public long[] ContextIds(long[] promptIds, GenerationOptions settings) => [settings.DecoderStartTokenId ?? 0];

        public void CheckFits(long[] promptIds, int maxNewTokens)
        {
            var positions = PromptPositions(promptIds);
            // The encoder's prompt in its slot; the decoder's start token and the new tokens in their cache.
            if (positions > Capacity) throw new EngineSequenceTooLongException(positions, maxNewTokens, Capacity);
            if (1 + maxNewTokens > Capacity) throw new EngineSequenceTooLongException(1, maxNewTokens, Capacity);
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
            // Prompts of one length are encoded together, without padding: each row computes what a lone run computes.
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
            var device = _model.Device;
            var ids = torch.tensor(flat, new long[] { count, length }, ScalarType.Int64, device);
            var (states, mask) = _model.EncodePrompt(new ForwardContext(), projected.narrow(0, first, count), ids, torch.ones_like(ids));
            // num_return_sequences: each prompt's rows adjacent, as the lone run's repeat_interleave of its encoder states.
            var repeat = Enumerable.Range(first, count).SelectMany(i => Enumerable.Repeat((long)i - first, prompts[i].Copies)).ToArray();
            if (repeat.Length != count)
            {
                var index = torch.tensor(repeat, ScalarType.Int64, device);
                states = states.index_select(0, index);
                mask = mask.index_select(0, index);
            }
            var rows = states.shape[0];
            var positions = states.shape[1];
            if (positions > Capacity) throw new KvCacheFullException(Capacity, 0, positions);
            var start = Enumerable.Range(first, count)
                .SelectMany(i => Enumerable.Repeat(prompts[i].Context is [var id] ? id : _model.ModelInfo.DecoderStartTokenId ?? 0, prompts[i].Copies)).ToArray();

            // The first decoder step, from the start token (a lone run's first step): it writes position 0 of the
            // rows' self-attention slots and memoizes every layer's cross-attention keys/values in its context.
            _self ??= new SlotKvCache((int)_model.ModelInfo.TextLayers, Slots, (int)_model.ModelInfo.TextHeads, Capacity,
                (int)_model.ModelInfo.TextHeadDim, states.dtype, device);
            _self.BeginPrefill(slot, rows);
            var step = new ForwardContext { Cache = _self };
            Tensor logits;
            try
            {
                var tokens = torch.tensor(start, new long[] { rows, 1 }, ScalarType.Int64, device);
                var hidden = _model.Decode(step, _model.EmbedTokens(step, tokens), _ones.narrow(0, 0, rows).narrow(1, 0, 1), states, mask);
                logits = _model.Logits(step, hidden.select(1, -1)).to_type(ScalarType.Float32);
                var memoized = step.Memoized.ToList();
                if (memoized.Count == 0) throw new InvalidOperationException("the T5 decoder memoized no cross-attention keys/values");
                var (_, keys, _) = memoized[0];
                _cross ??= new SlotKvCache(memoized.Max(m => m.Layer) + 1, Slots, (int)keys.shape[1], Capacity, (int)keys.shape[3], keys.dtype, device);
                _cross.BeginPrefill(slot, rows);
                foreach (var (layer, k, v) in memoized) _cross.Append(layer, k, v);
            }
            finally
            {
                step.ReleasePrepared();
                step.ReleaseMemo();
            }
            _encoder ??= torch.zeros(new long[] { Slots, Capacity, states.shape[2] }, states.dtype, device).DetachFromDisposeScope();
            _encoderMask ??= torch.zeros(new long[] { Slots, Capacity }, ScalarType.Int64, device).DetachFromDisposeScope();
            _encoder.narrow(0, slot, rows).narrow(1, 0, positions).copy_(states);
            var rowsMask = _encoderMask.narrow(0, slot, rows);
            rowsMask.zero_();
            rowsMask.narrow(1, 0, positions).copy_(mask);
            for (var r = 0; r < rows; r++)
            {
                _written[slot + r] = 1;
                _encoded[slot + r] = positions;
            }
            slot += (int)rows;
            return logits;
        }

        public Tensor Step(ReadOnlySpan<long> tokens)
        {
            var rows = Rows;
            if (tokens.Length != rows) throw new ArgumentException($"{tokens.Length} tokens for {rows} running rows", nameof(tokens));
            long longest = 0, encoderWindow = 0;
            for (var r = 0; r < rows; r++)
            {
                if (_written[r] >= Capacity) throw new KvCacheFullException(Capacity, (int)_written[r], 1);
                longest = Math.Max(longest, _written[r]);
                encoderWindow = Math.Max(encoderWindow, _encoded[r]);
            }
            var window = RowCompaction.Window(longest, Capacity);   // the decoder's self-attention window
            using var scope = NewDisposeScope();
            var device = _model.Device;
            var input = torch.tensor(tokens.ToArray(), new long[] { rows, 1 }, ScalarType.Int64, device);
            var at = torch.tensor(_written.AsSpan(0, rows).ToArray(), ScalarType.Int64, device);
            _self!.BeginStep(rows, at, window);
            var ctx = new ForwardContext { Cache = _self, StepPosition = at };
            for (var layer = 0; layer < _cross!.Layers; layer++)
            {
                var (k, v) = _cross.Read(layer, rows, encoderWindow);
                ctx.Remember(layer, k, v);
            }
            try
            {
                var hidden = _model.Decode(ctx, _model.EmbedTokens(ctx, input), _ones.narrow(0, 0, rows).narrow(1, 0, window),
                    _encoder!.narrow(0, 0, rows).narrow(1, 0, encoderWindow), _encoderMask!.narrow(0, 0, rows).narrow(1, 0, encoderWindow));
                for (var r = 0; r < rows; r++) _written[r]++;
                return _model.Logits(ctx, hidden.select(1, -1)).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
            }
            finally
            {
                ctx.ReleasePrepared();
            }
        }

        public void Keep(IReadOnlyList<int> rows)
        {
            var (from, to) = RowCompaction.Moves(rows, Rows);
            if (from.Length > 0)
            {
                var decoded = from.Max(r => _written[r]);
                var encoded = from.Max(r => _encoded[r]);
                using var scope = NewDisposeScope();
                var source = torch.tensor(from, ScalarType.Int64, _model.Device);
                var target = torch.tensor(to, ScalarType.Int64, _model.Device);
                _self!.Move(source, target, decoded);
                _cross!.Move(source, target, encoded);
                var states = _encoder!.narrow(1, 0, encoded);
                states.index_copy_(0, target, states.index_select(0, source));
                // Whole mask rows: the positions past the moved prompt must be 0 in the slot it moves to.
                _encoderMask!.index_copy_(0, target, _encoderMask.index_select(0, source));
                for (var i = 0; i < from.Length; i++)
                {
                    _written[to[i]] = _written[from[i]];
                    _encoded[to[i]] = _encoded[from[i]];
                }
            }
            Rows = rows.Count;
        }

        public void Dispose()
        {
            _self?.Dispose();
            _cross?.Dispose();
            _encoder?.Dispose();
            _encoderMask?.Dispose();
            _ones.Dispose();
        }
    }
}
