using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

public abstract partial class T5ConditionalGeneration
{
    /// <summary>
    /// T5's decoding run with the static-buffer step (<see cref="DecodingStep.StaticBuffers"/>; see OPT's): token ids
    /// [bucket, 1], the decoder mask over the whole cache, the encoder states and mask, the KV cache at its full length
    /// and the logits are buffers made once, for the rows padded up to their batch bucket (extra rows copy the last real
    /// one). The step's causal mask and relative position bias take the cache's device-side write position
    /// (<see cref="ForwardContext.StepPosition"/>). Every step is one token; the first computes the cross-attention
    /// keys/values (memoized for the run), so graphs are captured from the second on. Beam search reorders every
    /// buffer in place.
    /// </summary>
    private sealed class T5StaticDecoderSession : IDecoderSession
    {
        private readonly T5ConditionalGeneration _model;
        private readonly KvCache _cache;
        private readonly ForwardContext _ctx;
        private readonly Tensor _encoder, _encoderMask;   // [bucket, prompt, dim], [bucket, prompt]
        private readonly Tensor _mask;                    // [bucket, capacity] ones: every decoded position is real
        private readonly Tensor _tokens;                  // [bucket, 1] int64
        private Tensor? _logits;                          // [bucket, vocab] float32, made by the first step
        private readonly long _bucket;
        private long _steps;
        private bool _wantGraph;
        private StepGraph? _graph;

        public T5StaticDecoderSession(T5ConditionalGeneration model, Tensor encoder, Tensor encoderMask, long start, int rowsPerInput, int maxNewTokens, bool graphs)
        {
            _model = model;
            Rows = encoder.shape[0] * rowsPerInput;
            _bucket = BatchBuckets.For(Rows);
            var device = model.Device;
            using (var scope = NewDisposeScope())
            {
                var pad = torch.tensor(Enumerable.Range(0, (int)_bucket).Select(r => (long)Math.Min(r, Rows - 1)).ToArray(), ScalarType.Int64, device);
                _encoder = encoder.repeat_interleave(rowsPerInput, 0).index_select(0, pad).MoveToOuterDisposeScope();
                _encoderMask = encoderMask.repeat_interleave(rowsPerInput, 0).index_select(0, pad).MoveToOuterDisposeScope();
            }
            _encoder.DetachFromDisposeScope();
            _encoderMask.DetachFromDisposeScope();
            _cache = model.NewDecodingCache(_bucket, maxNewTokens + 1, encoder.dtype);
            _mask = torch.ones(_bucket, _cache.Capacity, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
            _tokens = torch.full(_bucket, 1, start, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
            _ctx = new ForwardContext { Cache = _cache, StepPosition = _cache.WritePosition };
            _wantGraph = graphs && StaticStepGraphs.Usable(model);
        }

        public long Rows { get; }

        public Tensor Next(Tensor? tokens)
        {
            using var scope = NewDisposeScope();
            if (_steps > 0)
            {
                if (tokens is null) throw new InvalidOperationException("tokens are required after the first step");
                _tokens.narrow(0, 0, Rows).copy_(tokens);
            }
            if (_logits is null)
            {
                // The first step: the memoized cross-attention keys/values are made here, and the logits buffer.
                var logits = StepLogits();
                _logits = torch.zeros(_bucket, logits.shape[1], dtype: ScalarType.Float32, device: _model.Device).DetachFromDisposeScope();
                _logits.copy_(logits);
            }
            else if (_graph is not null)
            {
                _graph.Replay();
                _model.CountReplay();
            }
            else if (_wantGraph)
            {
                _wantGraph = false;
                _graph = StaticStepGraphs.CaptureOrRunEagerly(_model, _logits, Step);
            }
            else Step();
            _cache.Advance(1);
            _steps++;
            return _logits.narrow(0, 0, Rows).MoveToOuterDisposeScope();
        }

        private Tensor StepLogits()
        {
            var hidden = _model.Decode(_ctx, _model.EmbedTokens(_ctx, _tokens), _mask, _encoder, _encoderMask);
            return _model.Logits(_ctx, hidden.select(1, -1));
        }

        /// <summary>The one-token step over the static buffers; idempotent for the same inputs.</summary>
        private void Step()
        {
            using var scope = NewDisposeScope();
            _logits!.copy_(StepLogits());
        }

        public void Reorder(Tensor rowIndex)
        {
            using var scope = NewDisposeScope();
            var kept = rowIndex.to(ScalarType.Int64, _model.Device);
            if (Rows < _bucket) kept = torch.cat([kept, torch.arange(Rows, _bucket, dtype: ScalarType.Int64, device: _model.Device)], 0);
            _cache.Reorder(kept);
            _ctx.ReorderMemoInPlace(kept);
            _encoder.copy_(_encoder.index_select(0, kept));
            _encoderMask.copy_(_encoderMask.index_select(0, kept));
        }

        public void Dispose()
        {
            _graph?.Dispose();
            _ctx.ReleasePrepared();
            _ctx.ReleaseMemo();
            _cache.Dispose();
            _encoder.Dispose();
            _encoderMask.Dispose();
            _mask.Dispose();
            _tokens.Dispose();
            _logits?.Dispose();
        }
    }
}
