using System.Text.Json;

namespace Blip2Compiler.Bench;

/// <summary>Writes each result as one JSON line, so runs can be appended to a file and compared with jq.</summary>
public sealed class JsonReport(TextWriter output)
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false };

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
}
