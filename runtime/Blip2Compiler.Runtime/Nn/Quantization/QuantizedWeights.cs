using System.Runtime.CompilerServices;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// Which parameter tensors have a quantized form, keyed by the tensor object the model's constructor takes. The
/// emitted code is unchanged by quantization: <see cref="Linear"/> and <see cref="Ops.Linear"/> look their weight up
/// here and run the quantized kernel when there is one. A quantized-only weight's tensor is the packed data itself; a
/// float weight that also serves as a quantized LM head (OPT's tied embedding) maps to a separate quantized copy.
/// Weak keys: an entry lives exactly as long as the model holds the tensor.
/// </summary>
public static class QuantizedWeights
{
    private static readonly ConditionalWeakTable<Tensor, QuantizedWeight> Table = new();

    public static void Register(Tensor parameter, QuantizedWeight quantized) => Table.AddOrUpdate(parameter, quantized);

    public static QuantizedWeight? Find(Tensor parameter) => Table.TryGetValue(parameter, out var q) ? q : null;

    /// <summary>Frees a parameter and, when its quantized form is libtorch's, that form's device scales with it (the
    /// packed data is the parameter itself, or a tied head's copy freed as a parameter of its own).</summary>
    internal static void Dispose(Tensor parameter)
    {
        Find(parameter)?.ScaleTensor?.Dispose();
        parameter.Dispose();
    }
}
