using System.Collections;
using Blip2Compiler.Checkpoints;
using Blip2Compiler.Nn.Quantization;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn;

/// <summary>
/// A model's parameters by name, as <see cref="CheckpointLoader"/> (or <see cref="RandomParameters"/>) made them, every
/// one checked against the key map, with the load's <see cref="Report"/>. Owns its tensors: <see cref="Dispose"/>
/// frees every one (a construction that failed, the model's own Dispose). The generated constructors
/// <see cref="Take"/> each parameter once: the key map and the constructors come from the same graph, so a parameter
/// no constructor takes is a compiler bug, reported loudly by <see cref="EnsureAllTaken"/>.
/// </summary>
public sealed class ParameterSet : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors;
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);

    internal ParameterSet(Dictionary<string, Tensor> tensors, LoadReport report)
    {
        _tensors = tensors;
        Report = report;
    }

    /// <summary>Which checkpoint keys filled which parameter (<see cref="LoadReport.Empty"/> for random parameters).</summary>
    public LoadReport Report { get; }

    /// <summary>The parameter a module keeps, marked as used; the set still owns it (<see cref="Dispose"/> frees it).</summary>
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

    public Tensor this[string key] => _tensors[key];
    public IEnumerable<string> Keys => _tensors.Keys;
    public IEnumerable<Tensor> Values => _tensors.Values;
    public int Count => _tensors.Count;
    public bool ContainsKey(string key) => _tensors.ContainsKey(key);
    public bool TryGetValue(string key, out Tensor value) => _tensors.TryGetValue(key, out value!);
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _tensors.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose() => DisposeAll(_tensors);

    internal static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (var tensor in tensors.Values) QuantizedWeights.Dispose(tensor);
        tensors.Clear();
    }
}
