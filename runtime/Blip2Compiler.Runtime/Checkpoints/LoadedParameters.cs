using System.Collections;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Parameter name → tensor, every one checked against the key map. Owns its tensors: <see cref="Dispose"/> frees
/// those not handed over with <see cref="Take"/>.
/// </summary>
public sealed class LoadedParameters : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors;

    internal LoadedParameters(Dictionary<string, Tensor> tensors, LoadReport report)
    {
        _tensors = tensors;
        Report = report;
    }

    public LoadReport Report { get; }

    /// <summary>Hands a tensor over to the caller (e.g. a module that keeps it as a parameter): it leaves this set, and
    /// <see cref="Dispose"/> no longer frees it.</summary>
    public Tensor Take(string parameter)
    {
        if (!_tensors.Remove(parameter, out var tensor))
            throw new KeyNotFoundException($"no loaded parameter '{parameter}' (or it was taken already)");
        return tensor;
    }

    public Tensor this[string key] => _tensors[key];
    public IEnumerable<string> Keys => _tensors.Keys;
    public IEnumerable<Tensor> Values => _tensors.Values;
    public int Count => _tensors.Count;
    public bool ContainsKey(string key) => _tensors.ContainsKey(key);
    public bool TryGetValue(string key, out Tensor value) => _tensors.TryGetValue(key, out value!);
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _tensors.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        foreach (var tensor in _tensors.Values) tensor.Dispose();
        _tensors.Clear();
    }

    internal static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (var tensor in tensors.Values) tensor.Dispose();
        tensors.Clear();
    }
}
