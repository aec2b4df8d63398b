using Blip2Compiler.Nn;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>
/// The vision tower alone (Hugging Face's Blip2VisionModel): pixel values to the EVA ViT's last hidden state and
/// pooled class token. A root of this kind is compiled from the tower's own flat config.json or, with
/// <c>Architecture = "Blip2VisionModel"</c>, from a full BLIP-2 checkpoint's (models.graph).
/// </summary>
public abstract class VisionTower : Blip2PreTrainedModel
{
    protected VisionTower(LoadedModel loaded, ModelInfo info) : base(loaded, info) { }

    public abstract (Tensor LastHiddenState, Tensor PoolerOutput) VisionForward(ForwardContext ctx, Tensor pixelValues, bool interpolate);

    /// <summary>
    /// Blip2VisionModel.forward: last_hidden_state [batch, positions, hidden] (after post_layernorm), pooler_output
    /// [batch, hidden], and with the flags each layer's input plus the encoder's output (hidden_states, layers + 1)
    /// and attention probabilities (attentions).
    /// </summary>
    public VisionOutput Forward(Tensor pixelValues, bool interpolatePosEncoding = false, bool outputHiddenStates = false, bool outputAttentions = false)
    {
        CheckPixels(pixelValues, interpolatePosEncoding);
        using var scope = NewDisposeScope();
        var ctx = new ForwardContext { OutputHiddenStates = outputHiddenStates, OutputAttentions = outputAttentions };
        var (last, pooled) = VisionForward(ctx, Input(pixelValues), interpolatePosEncoding);
        return Vision(last, pooled, ctx);
    }
}
