using Blip2Compiler;
using Blip2Compiler.Checkpoints;
using Blip2Compiler.Models;
using TorchSharp;

namespace Blip2Compiler.Bench;

// The benchmarked configs (Configs/<name>/config.json, also read by bench/reference.py), compiled by the generator.
[Blip2Model("opt-2.7b/config.json")] public partial class Opt27b;
[Blip2Model("flan-t5-xl/config.json")] public partial class FlanT5Xl;
[Blip2Model("itm-vit-g/config.json")] public partial class ItmVitG;
[Blip2Model("mid/config.json")] public partial class Mid;
[Blip2Model("mid-itm/config.json")] public partial class MidItm;
[Blip2Model("mid-t5/config.json")] public partial class MidT5;

/// <summary>A benchmarked config: its compiled class's key map and facts, a random-weight constructor, its checkpoint
/// loader, and the
/// retrieval config its ITM/ITC benchmarks run on.</summary>
public sealed record BenchConfig(string Name, KeyMap KeyMap, ModelInfo Info,
    Func<Blip2LoadOptions, int, Blip2ModelBase> CreateRandom, Func<string, Blip2LoadOptions, Blip2ModelBase> Load, string Retrieval)
{
    public bool IsRetrieval => Retrieval == Name;
}

/// <summary>
/// The configs by name and one random-weight model per (config, device, dtype) per process, so `all` creates each
/// model once.
/// </summary>
public static class BenchModels
{
    /// <summary>`mid`, `mid-t5` and `mid-itm` are the CPU configs (OPT, Flan-T5 style, retrieval; the same vision
    /// tower and Q-Former); the others are the published ones the GPU runs.</summary>
    private static readonly BenchConfig[] Configs =
    [
        new("mid", Mid.KeyMap, Mid.Info, (o, s) => Mid.CreateRandom(o, s), (d, o) => Mid.Load(d, o), "mid-itm"),
        new("mid-t5", MidT5.KeyMap, MidT5.Info, (o, s) => MidT5.CreateRandom(o, s), (d, o) => MidT5.Load(d, o), "mid-itm"),
        new("mid-itm", MidItm.KeyMap, MidItm.Info, (o, s) => MidItm.CreateRandom(o, s), (d, o) => MidItm.Load(d, o), "mid-itm"),
        new("opt-2.7b", Opt27b.KeyMap, Opt27b.Info, (o, s) => Opt27b.CreateRandom(o, s), (d, o) => Opt27b.Load(d, o), "itm-vit-g"),
        new("flan-t5-xl", FlanT5Xl.KeyMap, FlanT5Xl.Info, (o, s) => FlanT5Xl.CreateRandom(o, s), (d, o) => FlanT5Xl.Load(d, o), "itm-vit-g"),
        new("itm-vit-g", ItmVitG.KeyMap, ItmVitG.Info, (o, s) => ItmVitG.CreateRandom(o, s), (d, o) => ItmVitG.Load(d, o), "itm-vit-g"),
    ];

    public static IEnumerable<string> Names => Configs.Select(c => c.Name);

    public static BenchConfig Config(string name) =>
        Configs.FirstOrDefault(c => c.Name == name) ?? throw new ArgumentException($"unknown config '{name}'");

    public static KeyMap KeyMap(string config) => Config(config).KeyMap;

    public static ModelInfo Info(string config) => Config(config).Info;

    /// <summary>The retrieval config that goes with a captioning one (the ITM/ITC benchmarks run on it).</summary>
    public static string RetrievalConfig(string config) => Config(config).Retrieval;

    public static bool IsRetrieval(string config) => Config(config).IsRetrieval;

    private static readonly Dictionary<string, Blip2ModelBase> Created = new();

    /// <summary>The model for <paramref name="config"/> with random weights made on the device (seed 0).</summary>
    public static Blip2ModelBase Get(string config, BenchmarkOptions options)
    {
        var key = $"{config}|{options.Device}|{options.DType}";
        if (Created.TryGetValue(key, out var model)) return model;
        // One large model at a time: full-size configs do not fit twice in a small machine's memory.
        foreach (var old in Created.Values) old.Dispose();
        Created.Clear();
        model = Config(config).CreateRandom(new Blip2LoadOptions { Device = options.Device, DType = options.DType }, 0);
        torch.set_num_threads(options.Threads);
        Created[key] = model;
        return model;
    }
}
