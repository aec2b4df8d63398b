using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

public abstract partial class T5ConditionalGeneration
{
    /// <summary>The encoder runs once over the prompt with the image queries; the decoder starts from
    /// decoder_start_token_id. The sequences are decoder sequences (start token + new tokens).</summary>
    private protected override GenerationResult DecodeFrom(ForwardContext ctx, Tensor projected, Tensor ids, Tensor mask, GenerationOptions settings,
        CancellationToken cancellationToken)
    {
        var (encoder, encoderMask) = EncodePrompt(ctx, projected, ids, mask);
        var start = settings.DecoderStartTokenId ?? 0;
        var context = torch.full(ids.shape[0], 1, start, dtype: ScalarType.Int64, device: Device);
        var step = DecodingStep;
        return GenerationLoop.Generate((rows, maxNew) => step == DecodingStep.Dynamic
            ? new T5DecoderSession(this, encoder, encoderMask, start, rows, maxNew)
            : new T5StaticDecoderSession(this, encoder, encoderMask, start, rows, maxNew, graphs: step == DecodingStep.CudaGraphs), context, settings, cancellationToken);
    }

    /// <summary>The encoder's relative positions have no limit; the decoder starts from one decoder_start_token_id
    /// (the context <see cref="GenerationLoop.Generate"/> sees), whatever the prompt.</summary>
    private protected override (long ContextLength, long FirstStepPositions) DecodingStart(long promptIds) => (1, 1);

    /// <summary>Decoder state of one run: self-attention cache, cross-attention K/V memoized in the context.</summary>
    private sealed class T5DecoderSession : IDecoderSession
    {
        private readonly T5ConditionalGeneration _model;
        private readonly KvCache _cache;
        private readonly ForwardContext _ctx;
        private Tensor _encoder, _encoderMask;
        private readonly long _start;
        private bool _started;

        public T5DecoderSession(T5ConditionalGeneration model, Tensor encoder, Tensor encoderMask, long start, int rowsPerInput, int maxNewTokens)
        {
            _model = model;
            _encoder = encoder.repeat_interleave(rowsPerInput, 0).DetachFromDisposeScope();
            _encoderMask = encoderMask.repeat_interleave(rowsPerInput, 0).DetachFromDisposeScope();
            Rows = _encoder.shape[0];
            _cache = model.NewDecodingCache(Rows, maxNewTokens + 1, encoder.dtype);
            _ctx = new ForwardContext { Cache = _cache };
            _start = start;
        }

        public long Rows { get; }

        public Tensor Next(Tensor? tokens)
        {
            using var scope = NewDisposeScope();
            if (!_started)
            {
                tokens = torch.full(Rows, 1, _start, dtype: ScalarType.Int64, device: _model.Device);
                _started = true;
            }
            // Every decoded position is real; the causal mask hides the cache's unwritten ones (AttendWholeCapacity).
            var mask = torch.ones(Rows, _cache.AttendedLength(1), dtype: ScalarType.Int64, device: _model.Device);
            var hidden = _model.Decode(_ctx, _model.EmbedTokens(_ctx, tokens!), mask, _encoder, _encoderMask);
            _cache.Advance(1);
            return _model.Logits(_ctx, hidden.select(1, -1)).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
        }

        public void Reorder(Tensor rowIndex)
        {
            _cache.Reorder(rowIndex);
            _ctx.ReorderMemo(rowIndex);
            var encoder = _encoder.index_select(0, rowIndex).DetachFromDisposeScope();
            var encoderMask = _encoderMask.index_select(0, rowIndex).DetachFromDisposeScope();
            _encoder.Dispose(); _encoderMask.Dispose();
            (_encoder, _encoderMask) = (encoder, encoderMask);
        }

        public void Dispose()
        {
            _ctx.ReleaseMemo();
            _cache.Dispose();
            _encoder.Dispose();
            _encoderMask.Dispose();
        }
    }
}
