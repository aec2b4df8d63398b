using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>BLIP-2 with a Flan-T5 encoder–decoder: the projected queries enter the encoder's inputs.</summary>
public abstract partial class T5ConditionalGeneration : Blip2ConditionalGeneration
{
    protected T5ConditionalGeneration(LoadedModel loaded, ModelInfo info) : base(loaded, info) { }

    public abstract Tensor Encode(ForwardContext ctx, Tensor inputsEmbeds, Tensor mask);
    public abstract Tensor Decode(ForwardContext ctx, Tensor inputsEmbeds, Tensor mask, Tensor encoderStates, Tensor encoderMask);

    /// <summary>
    /// Decoder logits [batch, decoder_seq, vocab] for <paramref name="decoderInputIds"/>, or, without them, for
    /// <paramref name="labels"/> shifted right (decoder_start_token_id first, −100 read as pad, as Hugging Face's
    /// T5 <c>_shift_right</c>); the loss against labels when given (−100 ignored). The encoder's and the decoder's
    /// hidden states and attentions come apart (<see cref="Blip2ForwardOutput.LanguageModel"/>), as Seq2SeqLMOutput.
    /// </summary>
    public Blip2ForwardOutput Forward(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask = null, Tensor? decoderInputIds = null,
        Tensor? decoderAttentionMask = null, Tensor? labels = null, bool interpolatePosEncoding = false, bool outputHiddenStates = false,
        bool outputAttentions = false)
    {
        var batch = CheckPixels(pixelValues, interpolatePosEncoding);
        CheckTokens(inputIds, attentionMask, ModelInfo.VocabSize);
        CheckDecoderInputs(decoderInputIds, decoderAttentionMask, labels);
        var decoderRows = (decoderInputIds ?? labels)!.shape[0];
        if (inputIds.shape[0] != batch || decoderRows != batch)
            throw new InvalidModelInputException("input_ids", $"{batch} images, {inputIds.shape[0]} prompts and {decoderRows} decoder rows: give one row of each per image");
        using var scope = NewDisposeScope();
        var visionCtx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var (image, pooled) = VisionForward(visionCtx, Input(pixelValues), interpolatePosEncoding);
        var qformerCtx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var queries = QFormerForward(qformerCtx, image);
        var queryPooled = QFormerPooled(qformerCtx, queries);
        var encoderCtx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var projected = ProjectQueries(encoderCtx, queries);
        var (encoderStates, encoderMask) = EncodePrompt(encoderCtx, projected, Input(inputIds), attentionMask is null ? torch.ones_like(inputIds) : Input(attentionMask));
        var (logits, loss, outputs) = DecodeText(encoderCtx, encoderStates, encoderMask, decoderInputIds, decoderAttentionMask, labels, outputHiddenStates, outputAttentions);
        var qformer = QFormer(queries, queryPooled, qformerCtx);
        return new Blip2ForwardOutput(logits.MoveToOuterDisposeScope(), loss?.MoveToOuterDisposeScope(),
            Vision(image, pooled, visionCtx), qformer.LastHiddenState, projected.MoveToOuterDisposeScope(),
            outputs.DecoderHiddenStates, outputs.DecoderAttentions)
        { QFormerPoolerOutput = qformer.PoolerOutput, QFormer = qformer, LanguageModel = outputs };
    }

    /// <summary>
    /// Blip2Model.get_text_features for T5: the language model on text alone (no image queries), as Hugging Face
    /// calls it: the encoder over <paramref name="inputIds"/>' embeddings, the decoder over
    /// <paramref name="decoderInputIds"/> (or the labels shifted right), logits and the loss against labels.
    /// </summary>
    public Blip2TextOutput GetTextFeatures(Tensor inputIds, Tensor? attentionMask = null, Tensor? decoderInputIds = null,
        Tensor? decoderAttentionMask = null, Tensor? labels = null, bool outputHiddenStates = false, bool outputAttentions = false)
    {
        CheckTokens(inputIds, attentionMask, ModelInfo.VocabSize);
        CheckDecoderInputs(decoderInputIds, decoderAttentionMask, labels);
        var decoderRows = (decoderInputIds ?? labels)!.shape[0];
        if (decoderRows != inputIds.shape[0])
            throw new InvalidModelInputException("decoder_input_ids", $"{inputIds.shape[0]} prompts but {decoderRows} decoder rows: give one of each");
        using var scope = NewDisposeScope();
        var encoderCtx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var ids = Input(inputIds);
        var mask = attentionMask is null ? torch.ones_like(ids) : Input(attentionMask);
        var encoderStates = Encode(encoderCtx, EmbedTokens(encoderCtx, ids), mask);
        var (logits, loss, outputs) = DecodeText(encoderCtx, encoderStates, mask, decoderInputIds, decoderAttentionMask, labels, outputHiddenStates, outputAttentions);
        return new Blip2TextOutput(logits.MoveToOuterDisposeScope(), loss?.MoveToOuterDisposeScope(), outputs);
    }

    /// <summary>Decoder ids, or labels to shift right, in the vocabulary (labels may hold −100: ignored).</summary>
    private void CheckDecoderInputs(Tensor? decoderInputIds, Tensor? decoderAttentionMask, Tensor? labels)
    {
        if (decoderInputIds is not null) CheckTokens(decoderInputIds, decoderAttentionMask, ModelInfo.VocabSize, "decoder_input_ids");
        else if (labels is null)
            throw new InvalidModelInputException("decoder_input_ids", "required without labels (the decoder's inputs are the labels shifted right)");
        if (labels is null) return;
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.shape.Length != 2 || labels.shape[0] < 1 || labels.shape[1] < 1 || labels.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new InvalidModelInputException("labels", $"expected int64 [batch, length] with both at least 1, got {labels.dtype} [{string.Join(", ", labels.shape)}]");
        if (decoderInputIds is not null && !decoderInputIds.shape.SequenceEqual(labels.shape))
            throw new InvalidModelInputException("labels", $"expected the shape of decoder_input_ids [{string.Join(", ", decoderInputIds.shape)}], got [{string.Join(", ", labels.shape)}]");
        using var scope = NewDisposeScope();
        var real = labels.ne(-100);
        if (real.any().item<bool>())
        {
            var min = labels.masked_select(real).min().item<long>();
            var max = labels.masked_select(real).max().item<long>();
            if (min < 0 || ModelInfo.VocabSize > 0 && max >= ModelInfo.VocabSize)
                throw new InvalidModelInputException("labels", $"must be −100 or lie in [0, {ModelInfo.VocabSize - 1}] (the vocabulary), found {(min < 0 ? min : max)}");
        }
    }

    /// <summary>The decoder over its inputs (given, or the labels shifted right) and the encoder's states: logits,
    /// loss and the stacks' outputs apart.</summary>
    private (Tensor Logits, Tensor? Loss, Seq2SeqOutputs Outputs) DecodeText(ForwardContext encoderCtx, Tensor encoderStates, Tensor encoderMask,
        Tensor? decoderInputIds, Tensor? decoderAttentionMask, Tensor? labels, bool outputHiddenStates, bool outputAttentions)
    {
        var decoderCtx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var decoderIds = decoderInputIds is null ? ShiftRight(Input(labels!)) : Input(decoderInputIds);
        var decoderMask = decoderAttentionMask is null ? torch.ones_like(decoderIds) : Input(decoderAttentionMask);
        var hidden = Decode(decoderCtx, EmbedTokens(decoderCtx, decoderIds), decoderMask, encoderStates, encoderMask);
        var logits = Logits(decoderCtx, hidden);
        var loss = labels is null ? null : Losses.CrossEntropy(logits, Input(labels));
        // t5.graph's cross-attention says `cross = true`: its probabilities are recorded apart from the self-attentions.
        return (logits, loss, new Seq2SeqOutputs(
            encoderStates.MoveToOuterDisposeScope(), Outer(encoderCtx.HiddenStates), Outer(encoderCtx.Attentions),
            hidden.MoveToOuterDisposeScope(), Outer(decoderCtx.HiddenStates), Outer(decoderCtx.Attentions), Outer(decoderCtx.CrossAttentions)));
    }

    /// <summary>Hugging Face's T5 <c>_shift_right</c>: decoder_start_token_id, then the labels but the last, −100 as pad.</summary>
    private Tensor ShiftRight(Tensor labels)
    {
        var start = ModelInfo.DecoderStartTokenId
            ?? throw new InvalidModelInputException("labels", "the config has no decoder_start_token_id to shift the labels right with: give decoder_input_ids");
        var pad = ModelInfo.PadTokenId
            ?? throw new InvalidModelInputException("labels", "the config has no pad_token_id to read −100 labels as: give decoder_input_ids");
        var first = torch.full(labels.shape[0], 1, start, dtype: ScalarType.Int64, device: labels.device);
        var shifted = torch.cat([first, labels.to_type(ScalarType.Int64).slice(1, 0, labels.shape[1] - 1, 1)], 1);
        return shifted.masked_fill(shifted.eq(-100), pad);
    }

    /// <summary>Runs the encoder over the prompt with the queries in it (image tokens or prepended).</summary>
    protected (Tensor States, Tensor Mask) EncodePrompt(ForwardContext ctx, Tensor projected, Tensor inputIds, Tensor mask)
    {
        var (embeds, fullMask) = InsertQueries(EmbedTokens(ctx, inputIds), projected, inputIds, mask, useImageTokens: true);
        return (Encode(ctx, embeds, fullMask), fullMask);
    }
}
