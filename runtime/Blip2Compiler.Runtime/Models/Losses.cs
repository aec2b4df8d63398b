using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

internal static class Losses
{
    /// <summary>Mean cross-entropy over labels that are not -100, in float32 (as the reference).</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to_type(ScalarType.Float32), labels.reshape(-1).to(logits.device), ignore_index: -100);
}
