using TorchSharp;

namespace Blip2Compiler.Bench;

/// <summary>
/// Options shared by all benchmarks. Time-budgeted ones (preprocess) use <c>--seconds</c>; model benchmarks run
/// <c>--warmup</c> untimed and <c>--iterations</c> timed calls on <c>--config</c> (a folder under Configs/),
/// created with random weights on <c>--device</c> in <c>--dtype</c>. <c>--threads</c> sets torch's intra-op threads.
/// Benchmarks that write files (load: its checkpoint) write them under <c>--dir</c> (default: the temp folder) and
/// delete them when done.
/// </summary>
public sealed record BenchmarkOptions(double SecondsPerCase, int Threads, string Config, string Device, torch.ScalarType DType,
    int Warmup, int Iterations, string Directory, int Soak = 0)
{
    /// <summary><c>--dtypes a,b</c>: the dtypes a benchmark that sweeps them (load) measures; null: all it knows.</summary>
    public IReadOnlyList<torch.ScalarType>? DTypes { get; init; }

    /// <summary><c>--quantize int8,int4</c>: the quantized loads the load benchmark measures besides its dtypes
    /// (float32 compute, as the CPU runs them); null: none.</summary>
    public IReadOnlyList<Nn.Quantization.QuantizationMode>? Quantizations { get; init; }

    /// <summary><c>--decoding-step dynamic|static|cuda-graphs</c>: how generating benchmarks run their decoding steps
    /// (Blip2ConditionalGeneration.DecodingStep); their JSON lines carry it, and <c>"cuda_graphs": true</c> when steps
    /// were replayed as CUDA graphs.</summary>
    public Generation.DecodingStep DecodingStep { get; init; }

    /// <summary><c>--clients 1,8</c>: the client counts serve-load measures; null: 1, 2, 4, 8, 16.</summary>
    public IReadOnlyList<int>? Clients { get; init; }

    /// <summary><c>--engines continuous</c>: the engines serve-load measures; null: continuous and sequential.</summary>
    public IReadOnlyList<string>? Engines { get; init; }

    /// <summary><c>--admission-window MS</c>: serve-load's EngineOptions.AdmissionWindow; null: the engine's default.</summary>
    public double? AdmissionWindowMs { get; init; }

    public const string Usage = "options: --config NAME (mid, mid-t5, mid-itm, opt-2.7b, flan-t5-xl, itm-vit-g), --device cpu|cuda[:N], " +
                                "--dtype float32|float16|bfloat16, --warmup N, --iterations N, --threads N, --seconds S, --dir FOLDER, " +
                                "--dtypes float32,bfloat16 (load: which target dtypes), --quantize int8,int4 (load: quantized loads too), --soak N, --clients 1,8, --engines continuous,sequential, --admission-window MS (serve-load), " +
                                "--decoding-step dynamic|static|cuda-graphs (generating benchmarks)";

    /// <summary>The dtype as the JSON lines and reference.py spell it.</summary>
    public string DTypeName => DType switch
    {
        torch.ScalarType.Float16 => "float16",
        torch.ScalarType.BFloat16 => "bfloat16",
        _ => "float32",
    };

    public static BenchmarkOptions Parse(IReadOnlyList<string> args)
    {
        var seconds = 2.0;
        var threads = Environment.ProcessorCount;
        var config = "mid";
        var device = "cpu";
        var dtype = torch.ScalarType.Float32;
        var warmup = 1;
        var iterations = 3;
        var directory = Path.GetTempPath();
        List<torch.ScalarType>? dtypes = null;
        List<Nn.Quantization.QuantizationMode>? quantizations = null;
        var soak = 0;
        List<int>? clients = null;
        List<string>? engines = null;
        double? admissionWindow = null;
        var step = Generation.DecodingStep.Dynamic;
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--seconds" when double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0:
                    seconds = s; i++; break;
                case "--threads" when int.TryParse(value, out var t) && t > 0:
                    threads = t; i++; break;
                case "--config" when value is not null && BenchModels.Names.Contains(value):
                    config = value; i++; break;
                case "--device" when value is not null && (value == "cpu" || value.StartsWith("cuda", StringComparison.Ordinal)):
                    device = value; i++; break;
                case "--dtype" when value is not null && ParseDType(value) is { } d:
                    dtype = d; i++; break;
                case "--warmup" when int.TryParse(value, out var w) && w >= 0:
                    warmup = w; i++; break;
                case "--iterations" when int.TryParse(value, out var n) && n > 0:
                    iterations = n; i++; break;
                case "--dtypes" when value is not null && value.Split(',').Select(ParseDType).ToList() is { } list && list.All(d => d is not null):
                    dtypes = list.Select(d => d!.Value).ToList(); i++; break;
                case "--quantize" when value is not null && value.Split(',').All(q => q is "int8" or "int4"):
                    quantizations = value.Split(',').Select(q => q == "int8" ? Nn.Quantization.QuantizationMode.Int8 : Nn.Quantization.QuantizationMode.Int4).ToList(); i++; break;
                case "--soak" when int.TryParse(value, out var r) && r > 0:
                    soak = r; i++; break;
                case "--clients" when value is not null && value.Split(',').All(c => int.TryParse(c, out var n) && n > 0):
                    clients = value.Split(',').Select(int.Parse).ToList(); i++; break;
                case "--engines" when value is not null && value.Split(',').All(e => e is "continuous" or "sequential"):
                    engines = [.. value.Split(',')]; i++; break;
                case "--admission-window" when double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var aw) && aw >= 0:
                    admissionWindow = aw; i++; break;
                case "--decoding-step" when value is not null && value.Length > 0:
                    try { step = Generation.DecodingSteps.Parse(value); }
                    catch (Generation.InvalidGenerationOptionException) { throw new ArgumentException($"--decoding-step '{value}': dynamic, static or cuda-graphs ({Usage})"); }
                    i++; break;
                case "--dir" when value is not null && System.IO.Directory.Exists(value):
                    directory = value; i++; break;
                default:
                    throw new ArgumentException($"unknown or invalid option '{args[i]}'{(value is null ? "" : $" '{value}'")} ({Usage})");
            }
        }
        return new BenchmarkOptions(seconds, threads, config, device, dtype, warmup, iterations, directory, soak) { DTypes = dtypes, Quantizations = quantizations, DecodingStep = step, Clients = clients, Engines = engines, AdmissionWindowMs = admissionWindow };
    }

    private static torch.ScalarType? ParseDType(string name) => name switch
    {
        "float32" or "fp32" => torch.ScalarType.Float32,
        "float16" or "fp16" => torch.ScalarType.Float16,
        "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
        _ => null,
    };
}
