using Blip2Compiler.Nn;
using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>Outputs of the vision tower: last_hidden_state (after post_layernorm) and the pooled class token.</summary>
public sealed record VisionOutput(Tensor LastHiddenState, Tensor PoolerOutput, IReadOnlyList<Tensor> HiddenStates)
{
    /// <summary>Each layer's attention probabilities [batch, heads, positions, positions] (output_attentions).</summary>
    public IReadOnlyList<Tensor> Attentions { get; init; } = [];
}

/// <summary>Outputs of the Q-Former for the learned queries: last_hidden_state and pooler_output (the first query's).</summary>
public sealed record QFormerOutput(Tensor LastHiddenState, Tensor PoolerOutput)
{
    /// <summary>output_hidden_states: the embedding output (the queries after the layer norm), then every layer's
    /// output [batch, queries, hidden] (layers + 1; the last is <see cref="LastHiddenState"/>).</summary>
    public IReadOnlyList<Tensor> HiddenStates { get; init; } = [];
    /// <summary>output_attentions: each layer's self-attention probabilities [batch, heads, queries, queries].</summary>
    public IReadOnlyList<Tensor> Attentions { get; init; } = [];
    /// <summary>output_attentions: the cross-attention probabilities [batch, heads, queries, image positions] of the
    /// layers that cross-attend (every cross_attention_frequency-th), as Blip2QFormerEncoder's cross_attentions.</summary>
    public IReadOnlyList<Tensor> CrossAttentions { get; init; } = [];
}

/// <summary>
/// What every compiled BLIP-2 shares: the vision tower and the Q-Former. The generated class implements the
/// abstract steps (from its graph); the public methods here add the task glue and tensor lifetimes.
/// </summary>
public abstract class Blip2ModelBase : Blip2PreTrainedModel
{
    protected Blip2ModelBase(LoadedModel loaded, ModelInfo info) : base(loaded, info) { }

    public abstract (Tensor LastHiddenState, Tensor PoolerOutput) VisionForward(ForwardContext ctx, Tensor pixelValues, bool interpolate);
    public abstract Tensor QFormerForward(ForwardContext ctx, Tensor imageEmbeds);
    /// <summary>The Q-Former's pooler_output from its last hidden state (as the graph declares it).</summary>
    public abstract Tensor QFormerPooled(ForwardContext ctx, Tensor queryOutput);

    /// <summary>Blip2Model.get_image_features: the vision tower's outputs.</summary>
    public VisionOutput GetImageFeatures(Tensor pixelValues, bool interpolatePosEncoding = false, bool outputHiddenStates = false, bool outputAttentions = false)
    {
        CheckPixels(pixelValues, interpolatePosEncoding);
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var (last, pooled) = VisionForward(ctx, Input(pixelValues), interpolatePosEncoding);
        return Vision(last, pooled, ctx);
    }

    /// <summary>
    /// Blip2Model.get_qformer_features with its pooled output: the Q-Former's outputs for the learned queries, with
    /// its per-layer hidden states, self- and cross-attention probabilities when asked (the Q-Former's own, as
    /// Blip2QFormerModel returns them; the vision tower's are <see cref="GetImageFeatures"/>').
    /// </summary>
    public QFormerOutput GetQFormerOutputs(Tensor pixelValues, bool interpolatePosEncoding = false, bool outputHiddenStates = false, bool outputAttentions = false)
    {
        CheckPixels(pixelValues, interpolatePosEncoding);
        using var scope = NewDisposeScope();
        var (image, _) = VisionForward(new ForwardContext(), Input(pixelValues), interpolatePosEncoding);
        var ctx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var last = QFormerForward(ctx, image);
        return QFormer(last, QFormerPooled(ctx, last), ctx);
    }

    /// <summary>Blip2Model.get_qformer_features: the Q-Former's last hidden state for the learned queries.</summary>
    public Tensor GetQFormerFeatures(Tensor pixelValues, bool interpolatePosEncoding = false)
    {
        CheckPixels(pixelValues, interpolatePosEncoding);
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext();
        var (image, _) = VisionForward(ctx, Input(pixelValues), interpolatePosEncoding);
        return QFormerForward(ctx, image).MoveToOuterDisposeScope();
    }
}
