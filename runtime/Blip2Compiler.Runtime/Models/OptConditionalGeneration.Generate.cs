using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

public abstract partial class OptConditionalGeneration
{
    /// <summary>OPT decodes after the prompt (image tokens + BOS + text, left padded): the sequences are the prompt
    /// followed by the new tokens.</summary>
    private protected override GenerationResult DecodeFrom(ForwardContext ctx, Tensor projected, Tensor ids, Tensor mask, GenerationOptions settings,
        CancellationToken cancellationToken)
    {
        var (embeds, promptMask) = BuildInputs(ctx, projected, ids, mask, null);
        var step = DecodingStep;
        return GenerationLoop.Generate((rows, maxNew) => step == DecodingStep.Dynamic
            ? new OptDecoderSession(this, embeds, promptMask, rows, maxNew)
            : new OptStaticDecoderSession(this, embeds, promptMask, rows, maxNew, graphs: step == DecodingStep.CudaGraphs), ids, settings, cancellationToken);
    }

    /// <summary>The decoder sees the prompt ids as its context; its first step takes the prompt's positions, plus the
    /// query embeddings in front of it in the legacy layout (no image_token_index).</summary>
    private protected override (long ContextLength, long FirstStepPositions) DecodingStart(long promptIds) => (promptIds, PromptPositions(promptIds));

    /// <summary>One decoding run: a preallocated KV cache, the attention mask grown one column per step.</summary>
    private sealed class OptDecoderSession : IDecoderSession
    {
        private readonly OptConditionalGeneration _model;
        private readonly KvCache _cache;
        private readonly ForwardContext _ctx;
        private Tensor _mask;          // [rows, prompt + maxNew], 1 for real tokens
        private Tensor? _prompt;
        private long _length;

        public OptDecoderSession(OptConditionalGeneration model, Tensor promptEmbeds, Tensor promptMask, int rowsPerInput, int maxNewTokens)
        {
            _model = model;
            var rows = promptEmbeds.shape[0] * rowsPerInput;
            var promptLength = promptEmbeds.shape[1];
            _prompt = promptEmbeds.repeat_interleave(rowsPerInput, 0).DetachFromDisposeScope();
            _mask = torch.zeros(rows, promptLength + maxNewTokens, dtype: ScalarType.Int64, device: model.Device).DetachFromDisposeScope();
            _mask.slice(1, 0, promptLength, 1).copy_(promptMask.repeat_interleave(rowsPerInput, 0));
            _length = promptLength;
            _cache = model.NewDecodingCache(rows, promptLength + maxNewTokens, promptEmbeds.dtype);
            _ctx = new ForwardContext { Cache = _cache };
            Rows = rows;
        }

        public long Rows { get; }

        public Tensor Next(Tensor? tokens)
        {
            using var scope = NewDisposeScope();
            Tensor embeds;
            long past = _cache.Length, count;
            if (_prompt is not null)
            {
                embeds = _prompt;
                count = _prompt.shape[1];
            }
            else
            {
                if (tokens is null) throw new InvalidOperationException("tokens are required after the first step");
                _mask.slice(1, _length, _length + 1, 1).fill_(1);
                _length++;
                embeds = _model.EmbedTokens(_ctx, tokens);
                count = 1;
            }
            Tensor positions, attention;
            if (count == 1)
            {
                // A one-token step attends to the whole cache (AttendWholeCapacity), where the positions not written
                // yet are 0 in the mask like padding: the padding mask is the causal mask. The new token's position
                // is the graph's rule at its column, the row's largest. Both come from device state alone.
                positions = _model.NewestPositions(_mask);
                attention = Ops.PaddingMask(_mask);
            }
            else
            {
                var mask = _mask.slice(1, 0, past + count, 1);
                positions = _model.Positions(mask, past);
                attention = Ops.CausalMask(mask, count, past);
            }
            var hidden = _model.DecoderForward(_ctx, embeds, positions, attention);
            _cache.Advance((int)count);
            if (_prompt is not null) { _prompt.Dispose(); _prompt = null; }
            var logits = _model.Logits(_ctx, hidden.select(1, -1));
            return logits.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
        }

        public void Reorder(Tensor rowIndex)
        {
            _cache.Reorder(rowIndex);
            var mask = _mask.index_select(0, rowIndex).DetachFromDisposeScope();
            _mask.Dispose();
            _mask = mask;
        }

        public void Dispose()
        {
            _cache.Dispose();
            _mask.Dispose();
            _prompt?.Dispose();
        }
    }
}
