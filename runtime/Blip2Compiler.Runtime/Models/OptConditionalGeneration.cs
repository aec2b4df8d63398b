using Blip2Compiler.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>Outputs of a conditional-generation forward (Blip2ForConditionalGenerationModelOutput).</summary>
public sealed record Blip2ForwardOutput(
    Tensor Logits,
    Tensor? Loss,
    VisionOutput Vision,
    Tensor QFormerLastHiddenState,
    Tensor LanguageModelInputs,
    IReadOnlyList<Tensor> HiddenStates,
    IReadOnlyList<Tensor> Attentions)
{
    /// <summary>The Q-Former's pooler_output (its first query's last hidden state).</summary>
    public Tensor? QFormerPoolerOutput { get; init; }

    /// <summary>The Q-Former's outputs (Blip2ForConditionalGenerationModelOutput.qformer_outputs): last hidden state,
    /// pooler output, and its own hidden states, self- and cross-attentions when asked.</summary>
    public QFormerOutput? QFormer { get; init; }

    /// <summary>T5's outputs as Seq2SeqLMOutput has them, encoder and decoder apart (null for OPT).</summary>
    public Seq2SeqOutputs? LanguageModel { get; init; }
}

/// <summary>
/// An encoder–decoder's outputs as Hugging Face's Seq2SeqLMOutput holds them: the encoder's last hidden state, each
/// stack's hidden states (the input of every block, then the final norm's output: layers + 1) and attention
/// probabilities [batch, heads, queries, keys] apart, the decoder's cross-attentions apart from its self-attentions.
/// </summary>
public sealed record Seq2SeqOutputs(
    Tensor EncoderLastHiddenState,
    IReadOnlyList<Tensor> EncoderHiddenStates,
    IReadOnlyList<Tensor> EncoderAttentions,
    Tensor DecoderLastHiddenState,
    IReadOnlyList<Tensor> DecoderHiddenStates,
    IReadOnlyList<Tensor> DecoderAttentions,
    IReadOnlyList<Tensor> CrossAttentions);

/// <summary>
/// BLIP-2 with an OPT decoder (Blip2ForConditionalGeneration + Blip2Model's features). The projected queries
/// either replace the image-token embeddings (configs with image_token_index) or are prepended (legacy).
/// </summary>
public abstract partial class OptConditionalGeneration : Blip2ConditionalGeneration
{
    protected OptConditionalGeneration(LoadedModel loaded, ModelInfo info) : base(loaded, info) { }

    public abstract Tensor DecoderForward(ForwardContext ctx, Tensor inputsEmbeds, Tensor positions, Tensor? mask);

    /// <summary>OPT's position ids for every column of a 0/1 padding mask [rows, columns], as opt.graph declares them
    /// (OPTLearnedPositionalEmbedding: count of real tokens so far − 1, padding −1, offset by 2 into the table).</summary>
    public abstract Tensor TokenPositions(ForwardContext ctx, Tensor padding);

    /// <summary>
    /// The forward pass over a whole prompt: logits [batch, seq, vocab], and the language-modeling loss when labels
    /// are given (-100 ignored). `useImageTokens` null follows the config (image_token_index set or not).
    /// </summary>
    public Blip2ForwardOutput Forward(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null,
        bool interpolatePosEncoding = false, bool outputHiddenStates = false, bool outputAttentions = false, bool? useImageTokens = null)
    {
        var batch = CheckPixels(pixelValues, interpolatePosEncoding);
        CheckTokens(inputIds, attentionMask, ModelInfo.VocabSize);
        if (inputIds.shape[0] != batch)
            throw new InvalidModelInputException("input_ids", $"{batch} images but {inputIds.shape[0]} prompts: give one prompt row per image");
        // The queries take image-token positions, or come in front (the legacy layout, as InsertQueries decides).
        var prepended = (useImageTokens ?? true) && ModelInfo.ImageTokenIndex is not null ? 0 : ModelInfo.NumQueryTokens;
        CheckPositions(inputIds.shape[1] + prepended);
        using var scope = NewDisposeScope();
        var visionCtx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var (image, pooled) = VisionForward(visionCtx, Input(pixelValues), interpolatePosEncoding);
        var ctx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        // Per-layer outputs are the language model's (as the reference's `hidden_states` / `attentions`); the
        // vision tower's and the Q-Former's are on their own outputs.
        var qformerCtx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var queries = QFormerForward(qformerCtx, image);
        var projected = ProjectQueries(ctx, queries);
        var (embeds, mask) = BuildInputs(ctx, projected, Input(inputIds), attentionMask is null ? torch.ones_like(inputIds) : Input(attentionMask), useImageTokens);
        var hidden = DecoderForward(ctx, embeds, Positions(mask, 0), Ops.CausalMask(mask, embeds.shape[1], 0));
        var logits = Logits(ctx, hidden);
        Tensor? loss = null;
        if (labels is not null)
        {
            // Legacy layout: the queries were prepended, so only the last labels.Length positions are text.
            var text = logits.slice(1, logits.shape[1] - labels.shape[1], logits.shape[1], 1);
            loss = Losses.CrossEntropy(text.slice(1, 0, text.shape[1] - 1, 1), labels.slice(1, 1, labels.shape[1], 1));
        }
        var qformer = QFormer(queries, QFormerPooled(ctx, queries), qformerCtx);
        return new Blip2ForwardOutput(
            logits.MoveToOuterDisposeScope(), loss?.MoveToOuterDisposeScope(),
            Vision(image, pooled, visionCtx),
            qformer.LastHiddenState, projected.MoveToOuterDisposeScope(),
            Outer(ctx.HiddenStates), Outer(ctx.Attentions))
        { QFormerPoolerOutput = qformer.PoolerOutput, QFormer = qformer };
    }

    /// <summary>Blip2Model.get_text_features: the decoder's last hidden state for text alone.</summary>
    public Tensor GetTextFeatures(Tensor inputIds, Tensor? attentionMask = null)
    {
        CheckTokens(inputIds, attentionMask, ModelInfo.VocabSize);
        CheckPositions(inputIds.shape[1]);
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext();
        var ids = Input(inputIds);
        var mask = attentionMask is null ? torch.ones_like(ids) : Input(attentionMask);
        var embeds = EmbedTokens(ctx, ids);
        return DecoderForward(ctx, embeds, Positions(mask, 0), Ops.CausalMask(mask, ids.shape[1], 0)).MoveToOuterDisposeScope();
    }

    /// <summary>A forward pass over this many positions fits OPT's position table.</summary>
    private void CheckPositions(long positions)
    {
        if (ModelInfo.MaxPositions > 0 && positions > ModelInfo.MaxPositions)
            throw new InputTooLongException("the language model", positions, ModelInfo.MaxPositions);
    }

    /// <summary>Puts the projected queries into the prompt: at the image tokens, or in front (legacy).</summary>
    protected (Tensor Embeds, Tensor Mask) BuildInputs(ForwardContext ctx, Tensor projected, Tensor inputIds, Tensor mask, bool? useImageTokens)
    {
        var embeds = EmbedTokens(ctx, inputIds);
        return InsertQueries(embeds, projected, inputIds, mask, useImageTokens ?? ModelInfo.ImageTokenIndex is not null);
    }

    /// <summary>The positions of the tokens after the first <paramref name="past"/> of <paramref name="mask"/>'s columns
    /// (the reference's <c>position_ids[:, past_key_values_length:]</c>).</summary>
    protected Tensor Positions(Tensor mask, long past)
    {
        var positions = TokenPositions(new ForwardContext(), mask);
        return positions.slice(1, past, positions.shape[1], 1);
    }

    /// <summary>
    /// The position of each row's newest token, from a whole-capacity padding mask (columns not written yet are 0):
    /// the graph's rule gives every real token a position one above the last real one's, and padding and unwritten
    /// columns less than any real token's, so the newest token's is the row's largest. From device state alone, with
    /// no host position in the step's ops.
    /// </summary>
    internal Tensor NewestPositions(Tensor wholeMask) => TokenPositions(new ForwardContext(), wholeMask).amax(LengthDim, keepdim: true);

    private static readonly long[] LengthDim = [1];
}
