using Blip2Compiler;
using Blip2Compiler.Models;
using Blip2Compiler.Nn.Quantization;

namespace Blip2.Cli;

/// <summary>How results are written: tab-separated text lines, one JSON document, or one JSON object per line.</summary>
internal enum OutputFormat { Text, Json, JsonLines }

/// <summary>The options every command takes, and where output goes.</summary>
internal sealed record RunSettings(
    string? Model, string Device, string DType, string? LibTorch, int? Threads, OutputFormat Format, bool Quiet,
    TextWriter Out, TextWriter Error, Func<Stream> Input, bool Interactive, bool OwnsOut) : IDisposable
{
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    public bool Json => Format == OutputFormat.Json;
    public bool JsonLines => Format == OutputFormat.JsonLines;

    /// <summary>Parses --dtype first, so a bad value is reported before any model is read. <paramref name="dropFileCache"/>:
    /// the command's default for --file-cache (serve drops it: one load per server; the one-shot commands keep it for the next run).</summary>
    public Blip2LoadOptions LoadOptions(bool dropFileCache = false) => new()
    {
        Device = Device,
        DType = DTypeSpec.Parse(DType),
        LibTorchPath = LibTorch,
        Quantization = Quantize switch
        {
            "int8" => QuantizationMode.Int8,
            "int4" => QuantizationMode.Int4,
            _ => QuantizationMode.None,
        },
        KeepFileCache = FileCache switch { "keep" => true, "drop" => false, _ => !dropFileCache },
    };

    /// <summary>--quantize: none, int8 or int4 (the parser accepts only these).</summary>
    public string? Quantize { get; init; }

    /// <summary>--file-cache: keep, drop, or null (the command's default).</summary>
    public string? FileCache { get; init; }

    /// <summary>A note on stderr (<c>blip2: note: …</c>), unless --quiet.</summary>
    public void Note(string text)
    {
        if (!Quiet) Error.WriteLine("blip2: note: " + text);
    }

    /// <summary>The summary line on stderr, unless --quiet.</summary>
    public void Summary(object summary)
    {
        if (!Quiet) Error.WriteLine(summary);
    }

    public void Dispose()
    {
        if (OwnsOut) Out.Dispose();
        else Out.Flush();
    }
}
