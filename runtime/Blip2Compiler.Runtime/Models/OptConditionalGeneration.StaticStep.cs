using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

public abstract partial class OptConditionalGeneration
{
    /// <summary>
    /// A decoding run whose one-token step reads and writes static buffers only (<see cref="DecodingStep.StaticBuffers"/>):
    /// token ids [bucket, 1], the mask over the whole cache [bucket, capacity], the KV cache allocated once at the run's
    /// full length, the logits [bucket, vocab] float32, for the run's rows padded up to their batch bucket
    /// (<see cref="BatchBuckets"/>; the extra rows copy the last real row and are dropped). Inside the step nothing
    /// reads the host or depends on the step number: the new token's mask column and cache column are the cache's
    /// device-side write position, its position id the row's largest (opt.graph's rule, as the dynamic step). So the
    /// step can be captured once as a CUDA graph and replayed (<see cref="DecodingStep.CudaGraphs"/>, CUDA only), or
    /// run eagerly; either gives the dynamic step's tokens. The prompt step runs eagerly.
    /// </summary>
    private sealed class OptStaticDecoderSession : IDecoderSession
    {
        private readonly OptConditionalGeneration _model;
        private readonly KvCache _cache;
        private readonly ForwardContext _ctx;
        private readonly Tensor _mask;      // [bucket, capacity] int64, 1 for real tokens
        private readonly Tensor _tokens;    // [bucket, 1] int64, the step's input
        private Tensor? _logits;            // [bucket, vocab] float32, the step's output (made by the prompt step)
        private readonly Tensor _padRows;   // [bucket] int64: each row's source among the real rows (identity, then the last)
        private readonly long _bucket;
        private Tensor? _prompt;            // [bucket, prompt, dim] until the first step
        private bool _wantGraph;
        private StepGraph? _graph;

        public OptStaticDecoderSession(OptConditionalGeneration model, Tensor promptEmbeds, Tensor promptMask, int rowsPerInput, int maxNewTokens, bool graphs)
        {
            _model = model;
            Rows = promptEmbeds.shape[0] * rowsPerInput;
            _bucket = BatchBuckets.For(Rows);
            var promptLength = promptEmbeds.shape[1];
            var capacity = promptLength + maxNewTokens;
            var device = model.Device;
            var rows = Enumerable.Range(0, (int)_bucket).Select(r => Math.Min(r, Rows - 1)).ToArray();
            _padRows = torch.tensor(rows.Select(r => (long)r).ToArray(), ScalarType.Int64, device).DetachFromDisposeScope();
            _prompt = promptEmbeds.repeat_interleave(rowsPerInput, 0).index_select(0, _padRows).DetachFromDisposeScope();
            _mask = torch.zeros(_bucket, capacity, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
            _mask.narrow(1, 0, promptLength).copy_(promptMask.repeat_interleave(rowsPerInput, 0).index_select(0, _padRows));
            _tokens = torch.zeros(_bucket, 1, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
            _cache = model.NewDecodingCache(_bucket, capacity, promptEmbeds.dtype);
            _ctx = new ForwardContext { Cache = _cache };
            _wantGraph = graphs && StaticStepGraphs.Usable(model);
        }

        public long Rows { get; }

        public Tensor Next(Tensor? tokens)
        {
            using var scope = NewDisposeScope();
            if (_prompt is not null) return Prefill().MoveToOuterDisposeScope();
            if (tokens is null) throw new InvalidOperationException("tokens are required after the first step");
            _tokens.narrow(0, 0, Rows).copy_(tokens);
            if (_graph is not null)
            {
                _graph.Replay();
                _model.CountReplay();
            }
            else if (_wantGraph)
            {
                _wantGraph = false;
                _graph = StaticStepGraphs.CaptureOrRunEagerly(_model, _logits!, Step);
            }
            else Step();
            _cache.Advance(1);
            // A view of the static buffer: valid until the next step, which is all the engine reads it for.
            return _logits!.narrow(0, 0, Rows).MoveToOuterDisposeScope();
        }

        /// <summary>The prompt of every (padded) row through the decoder, eagerly; its next-token logits.</summary>
        private Tensor Prefill()
        {
            var prompt = _prompt!;
            var count = prompt.shape[1];
            var mask = _mask.narrow(1, 0, count);
            var hidden = _model.DecoderForward(_ctx, prompt, _model.Positions(mask, 0), Ops.CausalMask(mask, count, 0));
            _cache.Advance((int)count);
            prompt.Dispose();
            _prompt = null;
            var logits = _model.Logits(_ctx, hidden.select(1, -1));
            _logits = torch.zeros(_bucket, logits.shape[1], dtype: ScalarType.Float32, device: _model.Device).DetachFromDisposeScope();
            return logits.narrow(0, 0, Rows).to_type(ScalarType.Float32);
        }

        /// <summary>
        /// The one-token step over the static buffers: the token's mask column set at the cache's write position, its
        /// embedding and position, the decoder with the whole-capacity padding mask (unwritten columns are 0, so it is
        /// also the causal mask), the logits into the static buffer. Idempotent for the same inputs.
        /// </summary>
        private void Step()
        {
            using var scope = NewDisposeScope();
            _mask.index_fill_(1, _cache.WritePosition, Ops.One);
            var embeds = _model.EmbedTokens(_ctx, _tokens);
            var positions = _model.NewestPositions(_mask);
            var hidden = _model.DecoderForward(_ctx, embeds, positions, Ops.PaddingMask(_mask));
            _logits!.copy_(_model.Logits(_ctx, hidden.select(1, -1)));
        }

        public void Reorder(Tensor rowIndex)
        {
            using var scope = NewDisposeScope();
            // The real rows take their beams' rows; the padding rows keep their own.
            var kept = rowIndex.to(ScalarType.Int64, _model.Device);
            if (Rows < _bucket) kept = torch.cat([kept, torch.arange(Rows, _bucket, dtype: ScalarType.Int64, device: _model.Device)], 0);
            _cache.Reorder(kept);
            _mask.copy_(_mask.index_select(0, kept));
        }

        public void Dispose()
        {
            _graph?.Dispose();
            _ctx.ReleasePrepared();
            _cache.Dispose();
            _mask.Dispose();
            _tokens.Dispose();
            _logits?.Dispose();
            _padRows.Dispose();
            _prompt?.Dispose();
        }
    }
}
