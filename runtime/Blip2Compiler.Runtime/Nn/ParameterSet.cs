using Blip2Compiler.Nn.Quantization;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn;

/// <summary>
/// Loaded parameters by name, handed to the generated constructors. Every parameter must be taken exactly once:
/// the key map and the constructors come from the same graph, so a leftover is a compiler bug, reported loudly.
/// </summary>
public sealed class ParameterSet
{
    private readonly IReadOnlyDictionary<string, Tensor> _tensors;
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);

    public ParameterSet(IReadOnlyDictionary<string, Tensor> tensors) => _tensors = tensors;

    public Tensor Take(string name)
    {
        if (!_tensors.TryGetValue(name, out var t))
            throw new InvalidOperationException($"Parameter '{name}' is not in the loaded set (key map and model disagree).");
        _taken.Add(name);
        return t;
    }

    public void EnsureAllTaken()
    {
        // A tied LM head's quantized copy is found through its float table, never taken by name.
        var left = _tensors.Keys.Where(k => !_taken.Contains(k) && !k.EndsWith(QuantizationPlan.CopySuffix, StringComparison.Ordinal)).ToList();
        if (left.Count > 0) throw new InvalidOperationException("Parameters loaded but not used by the model: " + string.Join(", ", left.Take(5)));
    }
}
