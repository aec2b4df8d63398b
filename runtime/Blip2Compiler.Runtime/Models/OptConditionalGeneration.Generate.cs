using Blip2Compiler.Generation;
using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

public abstract partial class OptConditionalGeneration
{
    /// <summary>
    /// Captions or answers: decodes after the prompt (image tokens + BOS + text, left padded). Without input ids the
    /// prompt is the reference's default (image tokens + BOS). Sequences are the prompt followed by the new tokens.
    /// </summary>
    public GenerationResult Generate(Tensor pixelValues, Tensor? inputIds = null, Tensor? attentionMask = null,
        GenerationOptions? options = null, bool interpolatePosEncoding = false)
    {
        // Everything is checked before the vision tower runs: the inputs, then the run (PrepareGeneration).
        var batch = CheckPixels(pixelValues, interpolatePosEncoding);
        if (inputIds is not null) CheckTokens(inputIds, attentionMask, ModelInfo.VocabSize);
        else if (attentionMask is not null) throw new InvalidModelInputException("attention_mask", "given without input_ids");
        if (inputIds is not null && inputIds.shape[0] != batch)
            throw new InvalidModelInputException("input_ids", $"{batch} images but {inputIds.shape[0]} prompts: give one prompt row per image");
        var settings = CheckGeneration(options, batch, inputIds?.shape[1] ?? DefaultPromptLength);

        using var scope = NewDisposeScope();
        // Everything below stays inside (the result is host arrays): inference mode for the encoding too.
        using var inference = torch.inference_mode();
        var ids = inputIds is null ? DefaultPrompt(batch) : Input(inputIds);
        var mask = attentionMask is null ? torch.ones_like(ids) : Input(attentionMask);

        // Image → queries → prompt embeddings, once for all decoding rows.
        var ctx = new ForwardContext();
        var (image, _) = VisionForward(ctx, Input(pixelValues), interpolatePosEncoding);
        var projected = ProjectQueries(ctx, QFormerForward(ctx, image));
        var (embeds, promptMask) = BuildInputs(ctx, projected, ids, mask, null);

        var result = Decoder.Generate((rows, maxNew) => new OptDecoderSession(this, embeds, promptMask, rows, maxNew), ids, settings);
        return result;
    }

    /// <summary>
    /// The generation prelude for <paramref name="batch"/> prompts of <paramref name="promptIds"/> ids each (after the
    /// processor): the merged, checked options. The decoder's first step takes the prompt's positions, plus the query
    /// embeddings in front of it in the legacy layout (no image_token_index).
    /// </summary>
    internal GenerationOptions CheckGeneration(GenerationOptions? options, long batch, long promptIds) =>
        PrepareGeneration(options, batch, promptIds, PromptPositions(promptIds));

    /// <summary>The decoder positions a prompt of <paramref name="promptIds"/> ids takes: legacy checkpoints (no
    /// image_token_index) put the queries in front of the text; otherwise they fill the image tokens among the ids.</summary>
    internal long PromptPositions(long promptIds) => promptIds + (ModelInfo.ImageTokenIndex is null ? ModelInfo.NumQueryTokens : 0);

    private long DefaultPromptLength => (ModelInfo.ImageTokenIndex is null ? 0 : ModelInfo.NumQueryTokens) + (ModelInfo.BosTokenId is null ? 0 : 1);

    /// <summary>The reference's prompt when none is given: num_query_tokens image tokens, then BOS.</summary>
    private Tensor DefaultPrompt(long batch)
    {
        var row = new List<long>();
        if (ModelInfo.ImageTokenIndex is long image) for (int i = 0; i < ModelInfo.NumQueryTokens; i++) row.Add(image);
        if (ModelInfo.BosTokenId is long bos) row.Add(bos);
        return torch.tensor(row.ToArray(), dtype: ScalarType.Int64, device: Device).unsqueeze(0).expand(batch, -1).contiguous();
    }

    /// <summary>One decoding run: a preallocated KV cache, the attention mask grown one column per step.</summary>
    private sealed class OptDecoderSession : IDecoderSession
    {
        private readonly OptConditionalGeneration _model;
        private readonly KvCache _cache;
        private readonly ForwardContext _ctx;
        private Tensor _mask;          // [rows, prompt + maxNew], 1 for real tokens
        private Tensor? _prompt;
        private long _length;
        private static readonly long[] LengthDim = [1];

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
                // is the count of real tokens so far (HF: cumsum − 1, + 2). Both come from device state alone, with
                // no host position in the step's ops.
                positions = _mask.sum(LengthDim, keepdim: true) + 1;
                attention = Ops.PaddingMask(_mask);
            }
            else
            {
                var mask = _mask.slice(1, 0, past + count, 1);
                positions = Positions(mask, past);
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
