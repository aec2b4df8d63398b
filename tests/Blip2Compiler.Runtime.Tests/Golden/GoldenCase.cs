using System.Text.Json;
using Blip2Compiler.Checkpoints;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Tests.Golden;

/// <summary>One reference fixture: its checkpoint folder, inputs/expected tensors and meta.json.</summary>
internal sealed class GoldenCase : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors = new();

    public GoldenCase(string name, string file = "expected.safetensors")
    {
        Directory = Fixtures.Golden(name);
        using var reader = SafetensorsFile.Open(Path.Combine(Directory, file));
        foreach (var key in reader.Keys) _tensors[key] = reader.Load(key, null, torch.CPU);
        Meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "meta.json"))).RootElement;
    }

    public string Directory { get; }
    public string ModelDirectory => Path.Combine(Directory, "model");
    public JsonElement Meta { get; }
    public Tensor this[string key] => _tensors.TryGetValue(key, out var t) ? t : throw new KeyNotFoundException($"fixture has no tensor '{key}' (has: {string.Join(", ", _tensors.Keys)})");
    public bool Has(string key) => _tensors.ContainsKey(key);

    public void Dispose() { foreach (var t in _tensors.Values) t.Dispose(); }
}

internal static class TensorAssert
{
    /// <summary>Same shape and max |a − b| ≤ tolerance; the message gives the measured difference.</summary>
    public static void Close(Tensor expected, Tensor actual, double tolerance = 1e-4, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        var diff = (expected.to_type(torch.ScalarType.Float32) - actual.to_type(torch.ScalarType.Float32)).abs().max().item<float>();
        Assert.True(diff <= tolerance, $"{what}: max abs difference {diff:E3} > {tolerance:E1}");
    }

    public static void Equal(Tensor expected, Tensor actual, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.to_type(torch.ScalarType.Int64).eq(actual.to_type(torch.ScalarType.Int64)).all().item<bool>(), $"{what}: expected {expected.str()} got {actual.str()}");
    }
}
