using System.Text.Json;

namespace Blip2Compiler.Bench;

/// <summary>Writes each result as one JSON line, so runs can be appended to a file and compared with jq.</summary>
public sealed class JsonReport(TextWriter output)
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public void Result(string benchmark, string @case, params (string Key, object? Value)[] metrics)
    {
        var line = new Dictionary<string, object?>
        {
            ["benchmark"] = benchmark,
            ["case"] = @case,
        };
        foreach (var (key, value) in metrics) line[key] = value is double d ? Math.Round(d, 4) : value;
        line["cores"] = Environment.ProcessorCount;
        line["timestamp"] = DateTimeOffset.UtcNow.ToString("O");
        output.WriteLine(JsonSerializer.Serialize(line, Options));
        output.Flush();
    }

    private static bool IsGenerating(string name) => name is "caption" or "decode-token" or "beam" or "caption-batch";

    /// <summary>
    /// One model measurement in the format bench/reference.py also writes (and bench/compare.py joins on name, config,
    /// device, dtype, batch and metric): the median of the timed iterations, with their best.
    /// </summary>
    public void Metric(string name, string config, BenchmarkOptions options, long batch, string metric, double value, string unit,
        params (string Key, object? Value)[] extra)
    {
        var line = new Dictionary<string, object?>
        {
            ["impl"] = "blip2compiler",
            ["name"] = name,
            ["config"] = config,
            ["device"] = options.Device.StartsWith("cuda", StringComparison.Ordinal) ? "cuda" : "cpu",
            ["dtype"] = options.DTypeName,
            ["batch"] = batch,
            ["metric"] = metric,
            ["value"] = Math.Round(value, 4),
            ["unit"] = unit,
        };
        foreach (var (key, v) in extra) line[key] = v is double d ? Math.Round(d, 4) : v;
        if (options.DecodingStep != Generation.DecodingStep.Dynamic && IsGenerating(name))
        {
            line["decoding_step"] = options.DecodingStep == Generation.DecodingStep.CudaGraphs ? "cuda-graphs" : "static";
            line["cuda_graphs"] = options.DecodingStep == Generation.DecodingStep.CudaGraphs && BenchRuns.ReplayedGraphs;
        }
        line["threads"] = options.Threads;
        line["iterations"] = options.Iterations;
        line["timestamp"] = DateTimeOffset.UtcNow.ToString("O");
        output.WriteLine(JsonSerializer.Serialize(line, Options));
        output.Flush();
    }
}
