using Blip2Compiler.Nn;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>
/// The Q-Former alone (Hugging Face's Blip2QFormerModel): it has no query tokens of its own (Blip2Model holds
/// them), so the query embeddings are an input beside the image embeddings it cross-attends to. A root of this kind
/// is compiled from the Q-Former's own flat config.json or, with <c>Architecture = "Blip2QFormerModel"</c>, from a
/// full BLIP-2 checkpoint's (models.graph).
/// </summary>
public abstract class QFormerTower : Blip2PreTrainedModel
{
    protected QFormerTower(LoadedModel loaded, ModelInfo info) : base(loaded, info) { }

    public abstract Tensor QFormerForward(ForwardContext ctx, Tensor queryEmbeds, Tensor encoderHiddenStates);
    /// <summary>pooler_output from the last hidden state (as the graph declares it: the first query's).</summary>
    public abstract Tensor QFormerPooled(ForwardContext ctx, Tensor queryOutput);

    /// <summary>
    /// Blip2QFormerModel.forward(query_embeds, encoder_hidden_states=...): last_hidden_state [batch, queries, hidden]
    /// and pooler_output [batch, hidden]; with the flags the embedding output and every layer's output
    /// (hidden_states, layers + 1), the self-attention probabilities of every layer (attentions) and the
    /// cross-attention probabilities of the layers that cross-attend (cross_attentions). Every query attends to every
    /// query and image position (Hugging Face's default masks; attention_mask / encoder_attention_mask are not taken).
    /// </summary>
    /// <param name="queryEmbeds">[batch, queries, <see cref="ModelInfo.QFormerHiddenSize"/>], e.g. Blip2Model's query_tokens expanded to the batch.</param>
    /// <param name="encoderHiddenStates">[batch, positions, <see cref="ModelInfo.QFormerEncoderHiddenSize"/>]: the vision tower's last hidden state.</param>
    /// <param name="outputHiddenStates">output_hidden_states: fill <see cref="QFormerOutput.HiddenStates"/>.</param>
    /// <param name="outputAttentions">output_attentions: fill <see cref="QFormerOutput.Attentions"/> and <see cref="QFormerOutput.CrossAttentions"/>.</param>
    public QFormerOutput Forward(Tensor queryEmbeds, Tensor encoderHiddenStates, bool outputHiddenStates = false, bool outputAttentions = false)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(queryEmbeds);
        ArgumentNullException.ThrowIfNull(encoderHiddenStates);
        CheckEmbeddings(queryEmbeds, "query_embeds", ModelInfo.QFormerHiddenSize, "queries");
        CheckEmbeddings(encoderHiddenStates, "encoder_hidden_states", ModelInfo.QFormerEncoderHiddenSize, "positions");
        if (queryEmbeds.shape[0] != encoderHiddenStates.shape[0])
            throw new InvalidModelInputException("encoder_hidden_states", $"{queryEmbeds.shape[0]} rows of query_embeds but {encoderHiddenStates.shape[0]} of encoder_hidden_states: give one image per row");
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var last = QFormerForward(ctx, Input(queryEmbeds), Input(encoderHiddenStates));
        return QFormer(last, QFormerPooled(ctx, last), ctx);
    }

    /// <summary>Floating point [batch ≥ 1, length ≥ 1, <paramref name="width"/>].</summary>
    private static void CheckEmbeddings(Tensor t, string name, long width, string what)
    {
        var shape = t.shape;
        if (shape.Length != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] != width)
            throw new InvalidModelInputException(name, $"expected [batch, {what}, {width}] with batch and {what} at least 1, got [{string.Join(", ", shape)}]");
        if (!t.is_floating_point())
            throw new InvalidModelInputException(name, $"expected floating-point values, got {t.dtype}");
    }
}
