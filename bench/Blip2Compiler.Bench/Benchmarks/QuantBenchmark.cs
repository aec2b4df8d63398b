using System.Text.RegularExpressions;
using Blip2Compiler.Checkpoints;
using Blip2Compiler.Models;
using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Weight-only quantization on a whole model, float32 vs int8 vs int4 (and each with the LM head quantized too), in
/// one process: parameter memory (all, and of the quantized modules), peak resident memory while loading (VmHWM,
/// reset before each load) against the parameter bytes, fidelity (teacher-forced logits on the float32 model's own
/// greedy caption: top-1 agreement and ‖Δ‖/‖logits‖), the quantized layers' time in one batch-1 decoding step (the
/// language model's linears on one token, and the LM head), and the whole decoding step ((10 tokens − 1) / 9).
/// Timed cases are interleaved in rounds and the median over rounds is reported. On <c>mid</c> the models load from a
/// random-weight float32 safetensors checkpoint written once under the temp folder; on any other config (opt-2.7b:
/// float32 does not fit beside the others in 24 GB) int8 and int4 only, from the load benchmark's float32 checkpoint
/// (<see cref="SyntheticCheckpoint"/>: published layout, a repeated random block, 15 GB for opt-2.7b written at the
/// disk's speed) under <c>--dir</c>, deleted at the end. Either way the models load through the real loader, which
/// quantizes each weight while reading it.
/// </summary>
public sealed class QuantBenchmark : IBenchmark
{
    public string Name => "quant";
    public string Description => "float32 vs int8 vs int4: memory, peak load memory, fidelity, quantized-layer and step time";

    private sealed record Variant(string Name, QuantizationMode Mode, bool Head);

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        torch.set_num_threads(options.Threads);
        var config = BenchModels.Config(options.Config);
        var full = options.Config == "mid";
        var variants = new List<Variant>();
        if (full) variants.Add(new("float32", QuantizationMode.None, false));
        variants.AddRange([new("int8", QuantizationMode.Int8, false), new("int4", QuantizationMode.Int4, false)]);
        if (full) variants.AddRange([new("int8+head", QuantizationMode.Int8, true), new("int4+head", QuantizationMode.Int4, true)]);
        var directory = full ? WriteCheckpoint(config) : WriteSynthetic(config, options.Directory);
        try
        {
            Run(options, report, config, full, variants, directory);
        }
        finally
        {
            if (!full && System.IO.Directory.Exists(directory)) System.IO.Directory.Delete(directory, recursive: true);
        }
    }

    private void Run(BenchmarkOptions options, JsonReport report, BenchConfig config, bool full, List<Variant> variants, string directory)
    {

        void Line(string variant, string metric, double value, string unit, params (string, object?)[] extra) =>
            report.Result(Name, $"{options.Config} {variant} {metric}", [("value", value), ("unit", unit), .. extra, ("threads", options.Threads)]);

        var models = new Dictionary<Variant, Blip2ModelBase>();
        foreach (var v in variants)
        {
            var load = new Blip2LoadOptions { Quantization = v.Mode, QuantizeLmHead = v.Head };
            GC.Collect();
            ResetPeak();
            var before = Status("VmRSS");
            var model = config.Load(directory, load);
            var peak = Status("VmHWM") - before;
            models[v] = model;
            var quantized = model.QuantizedParameters;
            var quantizedBytes = quantized.Sum(p => p.Weight.Bytes);
            var quantizedFloatBytes = quantized.Sum(p => (long)p.Weight.OutFeatures * p.Weight.InFeatures * 4);
            Line(v.Name, "parameter_bytes", model.ParameterBytes / 1e6, "MB", ("quantized_layers", quantized.Count),
                ("quantized_mb", quantizedBytes / 1e6), ("quantized_float32_mb", quantizedFloatBytes / 1e6),
                ("quantized_ratio", quantizedFloatBytes == 0 ? 1 : (double)quantizedBytes / quantizedFloatBytes));
            Line(v.Name, "peak_load_rss", peak / 1e6, "MB", ("peak_over_parameters", (double)peak / model.ParameterBytes),
                ("from", "safetensors float32"), ("peak_gb", peak / 1e9));
        }

        using var scope = NewDisposeScope();
        var first = models[variants[0]];
        var pixels = BenchInputs.Pixels(first, 1);
        var prompt = BenchInputs.CaptionPrompt(first, 1);

        // Fidelity against float32, teacher-forced on float32's own caption.
        if (full)
        {
            var reference = (OptConditionalGeneration)models[variants[0]];
            var caption = BenchInputs.Generate(reference, pixels, prompt, BenchInputs.Caption(20, 1)).NewTokens[0];
            var sequence = torch.cat([prompt, torch.tensor(caption).unsqueeze(0)], 1);
            var textPositions = TensorIndex.Slice(prompt.shape[1] - 1, sequence.shape[1] - 1);
            Tensor Logits(Blip2ModelBase m) => ((OptConditionalGeneration)m).Forward(pixels, sequence).Logits[TensorIndex.Colon, textPositions];
            var expected = Logits(reference);
            foreach (var v in variants.Skip(1))
            {
                var actual = Logits(models[v]);
                var top1 = expected.argmax(-1).eq(actual.argmax(-1)).to_type(ScalarType.Float64).mean().item<double>();
                var error = (actual - expected).norm().item<float>() / expected.norm().item<float>();
                Line(v.Name, "fidelity", error, "relative_logit_error", ("top1_agreement", top1), ("positions", expected.shape[1]));
            }
        }

        // The decoding step's linears on one token: the language model's (what int8/int4 quantize) and the LM head.
        var layers = models[variants.First(v => v.Mode != QuantizationMode.None)].QuantizedParameters
            .Where(p => p.Parameter.StartsWith("language_model.layers.", StringComparison.Ordinal))
            .Select(p => (p.Weight.OutFeatures, p.Weight.InFeatures)).ToList();
        var floatLayers = full ? layers.Select(s => torch.normal(0, 0.02, [s.OutFeatures, s.InFeatures])).ToList() : null;
        var inputs = layers.Select(s => torch.randn(1, s.InFeatures)).ToList();
        var headShape = config.KeyMap.Entries.First(e => IsHead(e.Parameter)).Shape;
        var floatHead = full ? torch.normal(0, 0.02, headShape) : null;
        var headInput = torch.randn(1, headShape[1]);

        Action StepLayers(Variant v)
        {
            if (v.Mode == QuantizationMode.None)
                return () => { for (var i = 0; i < layers.Count; i++) nn.functional.linear(inputs[i], floatLayers![i]).Dispose(); };
            var weights = models[v].QuantizedParameters.Where(p => p.Parameter.StartsWith("language_model.layers.", StringComparison.Ordinal)).Select(p => p.Weight).ToList();
            return () => { for (var i = 0; i < weights.Count; i++) weights[i].Forward(inputs[i], null).Dispose(); };
        }
        Action Head(Variant v)
        {
            var q = models[v].QuantizedParameters.FirstOrDefault(p => IsHead(p.Parameter)).Weight;
            if (q is null) return floatHead is null ? () => { } : () => nn.functional.linear(headInput, floatHead).Dispose();
            return () => q.Forward(headInput, null).Dispose();
        }

        // 10 new tokens, not the caption benchmarks' 30: five models × rounds on a shared 2-core machine.
        const int tokens = 10;
        var samples = variants.ToDictionary(v => v, _ => (Layers: new List<double>(), Head: new List<double>(), Step: new List<double>()));
        for (var round = 0; round < options.Iterations; round++)
            foreach (var v in variants)
            {
                var m = models[v];
                samples[v].Layers.Add(Measure.Time(StepLayers(v), options.Warmup, 5, "cpu").MedianMs);
                samples[v].Head.Add(Measure.Time(Head(v), options.Warmup, 5, "cpu").MedianMs);
                var prefill = Measure.Time(() => BenchInputs.Generate(m, pixels, prompt, BenchInputs.Caption(1, 1)), 0, 1, "cpu").MedianMs;
                var total = Measure.Time(() => BenchInputs.Generate(m, pixels, prompt, BenchInputs.Caption(tokens, 1)), 0, 1, "cpu").MedianMs;
                samples[v].Step.Add((total - prefill) / (tokens - 1));
            }
        var baseline = samples[variants[0]];
        foreach (var v in variants)
        {
            var (l, h, s) = (Median(samples[v].Layers), Median(samples[v].Head), Median(samples[v].Step));
            Line(v.Name, "step_layers", l, "ms", ("vs_first", Ratio(l, Median(baseline.Layers))), ("layers", layers.Count), ("first", variants[0].Name));
            Line(v.Name, "lm_head", h, "ms", ("vs_first", Ratio(h, Median(baseline.Head))), ("quantized", v.Head));
            Line(v.Name, "decode_step", s, "ms", ("vs_first", Ratio(s, Median(baseline.Step))), ("rounds", options.Iterations));
        }
        foreach (var m in models.Values) m.Dispose();
    }

    private static bool IsHead(string parameter) => parameter.EndsWith("embed_tokens.weight", StringComparison.Ordinal) || parameter.EndsWith("lm_head.weight", StringComparison.Ordinal);

    /// <summary>A float32 checkpoint with the config's Hugging Face keys and random weights (Normal(0, 0.02), norm
    /// weights 1, biases 0), written once per machine, tensor by tensor.</summary>
    private static string WriteCheckpoint(BenchConfig config)
    {
        var directory = Path.Combine(Path.GetTempPath(), "blip2-quant-bench-" + config.Name);
        var file = Path.Combine(directory, "model.safetensors");
        if (File.Exists(file)) return directory;
        Directory.CreateDirectory(directory);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Configs", config.Name, "config.json"), Path.Combine(directory, "config.json"), true);
        var tensors = new List<StreamedTensor>();
        var seed = 0UL;
        foreach (var entry in config.KeyMap.Entries)
        {
            var source = entry.Alternatives[0];
            var rows = source.Kind == SourceKind.Concat ? entry.Shape[0] / source.Keys.Length : entry.Shape[0];
            foreach (var key in source.Keys)
            {
                long[] shape = [rows, .. entry.Shape[1..]];
                var s = ++seed;
                var norm = Regex.IsMatch(key, "(layer_?norm|LayerNorm)[^.]*\\.weight$");
                tensors.Add(new StreamedTensor(key, ScalarType.Float32, shape, stream =>
                {
                    using var scope = NewDisposeScope();
                    var t = norm ? torch.ones(shape) : key.EndsWith("bias", StringComparison.Ordinal) ? torch.zeros(shape)
                        : torch.normal(0, 0.02, shape, generator: new Generator(s));
                    StreamedTensor.Of(key, t).WriteData(stream);
                }));
            }
        }
        SafetensorsWriter.Write(file + ".tmp", tensors);
        File.Move(file + ".tmp", file);
        return directory;
    }

    /// <summary>The load benchmark's float32 checkpoint of <paramref name="config"/> under <paramref name="folder"/>.</summary>
    private string WriteSynthetic(BenchConfig config, string folder)
    {
        var directory = Path.Combine(folder, $"blip2-quant-bench-{config.Name}-{Environment.ProcessId}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        SyntheticCheckpoint.Write(directory, config.KeyMap, Path.Combine(AppContext.BaseDirectory, "Configs", config.Name, "config.json"), null);
        Console.Error.WriteLine($"{Name}: wrote {SyntheticCheckpoint.Bytes(config.KeyMap) / 1e9:F2} GB in {clock.Elapsed.TotalSeconds:F1} s ({directory})");
        return directory;
    }

    /// <summary>Resets the peak resident size (VmHWM) of this process (Linux: clear_refs 5).</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static long Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    // A config whose language model has no "language_model.layers." (T5) times no layers: no ratio, not NaN.
    private static double? Ratio(double value, double baseline) => baseline > 0 ? value / baseline : null;

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
