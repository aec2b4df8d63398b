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

/// <summary>
/// The configs by name, their compiled classes, and one random-weight model per (config, device, dtype) per process,
/// so `all` creates each model once.
/// </summary>
public static class BenchModels
{
    public static readonly string[] Names = ["mid", "mid-itm", "opt-2.7b", "flan-t5-xl", "itm-vit-g"];

    private static readonly Dictionary<string, Blip2ModelBase> Created = new();

    public static KeyMap KeyMap(string config) => config switch
    {
        "mid" => Mid.KeyMap,
        "mid-itm" => MidItm.KeyMap,
        "opt-2.7b" => Opt27b.KeyMap,
        "flan-t5-xl" => FlanT5Xl.KeyMap,
        "itm-vit-g" => ItmVitG.KeyMap,
        _ => throw new ArgumentException($"unknown config '{config}'"),
    };

    public static ModelInfo Info(string config) => config switch
    {
        "mid" => Mid.Info,
        "mid-itm" => MidItm.Info,
        "opt-2.7b" => Opt27b.Info,
        "flan-t5-xl" => FlanT5Xl.Info,
        "itm-vit-g" => ItmVitG.Info,
        _ => throw new ArgumentException($"unknown config '{config}'"),
    };

    /// <summary>The retrieval config that goes with a captioning one (the ITM/ITC benchmarks run on it).</summary>
    public static string RetrievalConfig(string config) => config switch
    {
        "mid" or "mid-itm" => "mid-itm",
        _ => "itm-vit-g",
    };

    public static bool IsRetrieval(string config) => config is "mid-itm" or "itm-vit-g";

    /// <summary>The model for <paramref name="config"/> with random weights made on the device (seed 0).</summary>
    public static Blip2ModelBase Get(string config, BenchmarkOptions options)
    {
        var key = $"{config}|{options.Device}|{options.DType}";
        if (Created.TryGetValue(key, out var model)) return model;
        // One large model at a time: full-size configs do not fit twice in a small machine's memory.
        foreach (var old in Created.Values) old.Dispose();
        Created.Clear();
        var load = new Blip2LoadOptions { Device = options.Device, DType = options.DType };
        model = config switch
        {
            "mid" => Mid.CreateRandom(load, 0),
            "mid-itm" => MidItm.CreateRandom(load, 0),
            "opt-2.7b" => Opt27b.CreateRandom(load, 0),
            "flan-t5-xl" => FlanT5Xl.CreateRandom(load, 0),
            "itm-vit-g" => ItmVitG.CreateRandom(load, 0),
            _ => throw new ArgumentException($"unknown config '{config}'"),
        };
        torch.set_num_threads(options.Threads);
        Created[key] = model;
        return model;
    }
}
