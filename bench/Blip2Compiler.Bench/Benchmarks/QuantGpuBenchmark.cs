using System.Diagnostics;
using Blip2Compiler.Models;
using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Weight-only quantization on one device, the model's dtype (float16 on the GPU) vs int8 vs int4, in one process,
/// random weights (the same float weights for every variant: one seed, one generation order): parameter bytes, the
/// device memory each model added (<c>nvidia-smi</c>'s memory.used before and after its creation, models kept alive so
/// nothing is handed back between), the host's peak resident memory while creating it (VmHWM: the weights are
/// quantized on the host one at a time, never a float model there), ms per decoded token ((30-token caption − 1-token
/// caption) / 29, as decode-token), and fidelity against the unquantized model (teacher-forced logits on its own
/// greedy 20-token caption: top-1 agreement and ‖Δ‖/‖logits‖). On CUDA int8 also runs a second time with every
/// layer through dequantize + GEMM (<c>int8 dequantize+gemm</c>), to set <see cref="LibTorchWeightOnlyMatmul.Int8PackMaxRows"/>
/// from a measurement. Its Hugging Face + bitsandbytes counterpart is <c>bench/quant_reference.py</c>.
/// On the CPU (<c>--dtype float32</c>) it runs the same harness on the runtime's own kernels.
/// </summary>
public sealed class QuantGpuBenchmark : IBenchmark
{
    public string Name => "quant-gpu";
    public string Description => "dtype vs int8 vs int4 on one device: parameter/device memory, ms per token, fidelity (the GPU side of quantization)";

    private sealed record Variant(string Name, QuantizationMode Mode, bool DequantizeOnly = false);

    public void Run(BenchmarkOptions options, JsonReport report)
    {
        torch.set_num_threads(options.Threads);
        var config = BenchModels.Config(options.Config);
        var cuda = options.Device.StartsWith("cuda", StringComparison.Ordinal);
        var variants = new List<Variant> { new(options.DTypeName, QuantizationMode.None), new("int8", QuantizationMode.Int8) };
        if (cuda) variants.Add(new("int8 dequantize+gemm", QuantizationMode.Int8, DequantizeOnly: true));
        variants.Add(new("int4", QuantizationMode.Int4));

        void Line(string variant, string metric, double? value, string unit, params (string, object?)[] extra) =>
            report.Result(Name, $"{options.Config} {options.DTypeName} {variant} {metric}",
                [("value", value), ("unit", unit), .. extra, ("device", options.Device), ("dtype", options.DTypeName), ("threads", options.Threads)]);

        var models = new Dictionary<QuantizationMode, Blip2ModelBase>();
        foreach (var v in variants.Where(v => !v.DequantizeOnly))
        {
            GC.Collect();
            ResetPeak();
            var rss = ProcessMemory.Current();
            var gpu = cuda ? GpuMemoryUsedMb(options.Device) : null;
            var clock = Stopwatch.StartNew();
            var model = config.CreateRandom(new Blip2LoadOptions { Device = options.Device, DType = options.DType, Quantization = v.Mode }, 0);
            Measure.Synchronize(options.Device);
            var seconds = clock.Elapsed.TotalSeconds;
            var hostPeak = ProcessMemory.Peak() - rss;
            var gpuAfter = cuda ? GpuMemoryUsedMb(options.Device) : null;
            models[v.Mode] = model;
            var quantized = model.QuantizedParameters;
            var quantizedBytes = quantized.Sum(p => p.Weight.Bytes);
            var floatBytes = quantized.Sum(p => (long)p.Weight.OutFeatures * p.Weight.InFeatures * (options.DType == ScalarType.Float32 ? 4 : 2));
            Line(v.Name, "parameter_bytes", model.ParameterBytes / 1e6, "MB", ("quantized_layers", quantized.Count),
                ("quantized_mb", quantizedBytes / 1e6), ("quantized_ratio_vs_dtype", floatBytes == 0 ? null : (double)quantizedBytes / floatBytes),
                ("create_s", seconds));
            Line(v.Name, "device_memory_added", gpuAfter - gpu, "MB", ("gpu_used_after_mb", gpuAfter), ("source", "nvidia-smi memory.used"));
            Line(v.Name, "host_peak_while_creating", hostPeak / 1e6, "MB", ("over_parameters", (double)hostPeak / model.ParameterBytes));
        }

        using var scope = NewDisposeScope();
        var baseline = models[QuantizationMode.None];
        var pixels = BenchInputs.Pixels(baseline, 1);
        var prompt = BenchInputs.CaptionPrompt(baseline, 1);

        if (baseline is OptConditionalGeneration reference)
        {
            var caption = BenchInputs.Generate(reference, pixels, prompt, BenchInputs.Caption(20, 1)).NewTokens[0];
            var sequence = torch.cat([prompt, torch.tensor(caption, device: prompt.device).unsqueeze(0)], 1);
            var textPositions = TensorIndex.Slice(prompt.shape[1] - 1, sequence.shape[1] - 1);
            Tensor Logits(Blip2ModelBase m) =>
                ((OptConditionalGeneration)m).Forward(pixels, sequence).Logits[TensorIndex.Colon, textPositions].to(ScalarType.Float32);
            var expected = Logits(reference);
            foreach (var v in variants.Where(v => v.Mode != QuantizationMode.None))
            {
                LibTorchWeightOnlyMatmul.Int8PackRows = v.DequantizeOnly ? 0 : LibTorchWeightOnlyMatmul.Int8PackMaxRows;
                var actual = Logits(models[v.Mode]);
                var top1 = expected.argmax(-1).eq(actual.argmax(-1)).to_type(ScalarType.Float64).mean().item<double>();
                var error = (actual - expected).norm().item<float>() / expected.norm().item<float>();
                Line(v.Name, "fidelity", error, "relative_logit_error", ("top1_agreement", top1), ("positions", expected.shape[1]), ("against", options.DTypeName));
            }
            LibTorchWeightOnlyMatmul.Int8PackRows = LibTorchWeightOnlyMatmul.Int8PackMaxRows;
        }

        var tokens = BenchInputs.CaptionTokens;
        double? first = null;
        foreach (var v in variants)
        {
            var m = models[v.Mode];
            LibTorchWeightOnlyMatmul.Int8PackRows = v.DequantizeOnly ? 0 : LibTorchWeightOnlyMatmul.Int8PackMaxRows;
            var prefill = Measure.Time(() => BenchInputs.Generate(m, pixels, prompt, BenchInputs.Caption(1, 1)), options.Warmup, options.Iterations, options.Device);
            var total = Measure.Time(() => BenchInputs.Generate(m, pixels, prompt, BenchInputs.Caption(tokens, 1)), options.Warmup, options.Iterations, options.Device);
            var perToken = (total.MedianMs - prefill.MedianMs) / (tokens - 1);
            first ??= perToken;
            Line(v.Name, "per_token", perToken, "ms", ($"vs_{options.DTypeName}", perToken / first), ("prefill_ms", prefill.MedianMs),
                ("total_ms", total.MedianMs), ("new_tokens", tokens), ("iterations", options.Iterations));
        }
        LibTorchWeightOnlyMatmul.Int8PackRows = LibTorchWeightOnlyMatmul.Int8PackMaxRows;
        foreach (var m in models.Values) m.Dispose();
    }

    /// <summary>The GPU's memory in use (MB) as nvidia-smi reports it; null without nvidia-smi.</summary>
    private static double? GpuMemoryUsedMb(string device)
    {
        var index = device.Contains(':') ? device[(device.IndexOf(':') + 1)..] : "0";
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nvidia-smi", ["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", index])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (process is null) return null;
            var text = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 && double.TryParse(text.Trim(), System.Globalization.CultureInfo.InvariantCulture, out var mb) ? mb : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Resets the peak resident size (VmHWM) of this process (Linux: clear_refs 5).</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
