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

    /// <summary>Decoder logits [batch, decoder_seq, vocab] for `decoderInputIds`; loss against labels when given.</summary>
    public Blip2ForwardOutput Forward(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask, Tensor decoderInputIds,
        Tensor? decoderAttentionMask = null, Tensor? labels = null, bool interpolatePosEncoding = false, bool outputHiddenStates = false)
    {
        var batch = CheckPixels(pixelValues, interpolatePosEncoding);
        CheckTokens(inputIds, attentionMask, ModelInfo.VocabSize);
        CheckTokens(decoderInputIds, decoderAttentionMask, ModelInfo.VocabSize, "decoder_input_ids");
        if (inputIds.shape[0] != batch || decoderInputIds.shape[0] != batch)
            throw new InvalidModelInputException("input_ids", $"{batch} images, {inputIds.shape[0]} prompts and {decoderInputIds.shape[0]} decoder rows: give one row of each per image");
        using var scope = NewDisposeScope();
        var visionCtx = new ForwardContext();
        var (image, pooled) = VisionForward(visionCtx, Input(pixelValues), interpolatePosEncoding);
        var ctx = new ForwardContext { OutputHiddenStates = outputHiddenStates };
        // Per-layer outputs are the language model's (as the reference's `hidden_states` / `attentions`).
        var queries = QFormerForward(new ForwardContext(), image);
        var projected = ProjectQueries(ctx, queries);
        var (encoderStates, encoderMask) = EncodePrompt(ctx, projected, Input(inputIds), attentionMask is null ? torch.ones_like(inputIds) : Input(attentionMask));
        var decoderIds = Input(decoderInputIds);
        var decoderMask = decoderAttentionMask is null ? torch.ones_like(decoderIds) : Input(decoderAttentionMask);
        var hidden = Decode(ctx, EmbedTokens(ctx, decoderIds), decoderMask, encoderStates, encoderMask);
        var logits = Logits(ctx, hidden);
        var loss = labels is null ? null : Losses.CrossEntropy(logits, labels);
        return new Blip2ForwardOutput(logits.MoveToOuterDisposeScope(), loss?.MoveToOuterDisposeScope(),
            new VisionOutput(image.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), Array.Empty<Tensor>()),
            queries.MoveToOuterDisposeScope(), projected.MoveToOuterDisposeScope(),
            ctx.HiddenStates.Select(h => h.MoveToOuterDisposeScope()).ToList(), Array.Empty<Tensor>());
    }

    /// <summary>Runs the encoder over the prompt with the queries in it (image tokens or prepended).</summary>
    protected (Tensor States, Tensor Mask) EncodePrompt(ForwardContext ctx, Tensor projected, Tensor inputIds, Tensor mask)
    {
        var (embeds, fullMask) = InsertQueries(EmbedTokens(ctx, inputIds), projected, inputIds, mask, useImageTokens: true);
        return (Encode(ctx, embeds, fullMask), fullMask);
    }
}
