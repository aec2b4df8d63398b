using System.CommandLine;

namespace Blip2.Cli;

/// <summary>Where output goes, and whether stderr is a terminal (progress bars).</summary>
internal sealed record CliContext(TextWriter Out, TextWriter Error, bool Interactive);

/// <summary>The options every command takes (given before or after the command name).</summary>
internal sealed class CommonOptions
{
    private readonly Option<string?> _model = new("--model", "-m")
    {
        Description = "Checkpoint folder (config.json, model.safetensors, tokenizer, preprocessor_config.json). Default: the bundled tiny checkpoint (random weights).",
        Recursive = true,
    };
    private readonly Option<string> _device = new("--device")
    {
        Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu", Recursive = true,
    };
    private readonly Option<string> _dtype = new("--dtype")
    {
        Description = "float32, float16 or bfloat16.", DefaultValueFactory = _ => "float32", Recursive = true,
    };
    private readonly Option<string?> _libtorch = new("--libtorch")
    {
        Description = "A libtorch folder to use (e.g. <python>/site-packages/torch/lib, for CUDA); default: BLIP2_LIBTORCH or the bundled CPU one.",
        Recursive = true,
    };
    private readonly Option<string?> _quantize = new Option<string?>("--quantize")
    {
        Description = "Quantize the language model's and vision tower's linear weights at load: int8 or int4 (CPU, float32 compute).",
        Recursive = true,
    }.AcceptOnlyFromAmong("none", "int8", "int4");
    private readonly Option<bool> _json = new("--json") { Description = "Write results as JSON.", Recursive = true };

    public void AddTo(RootCommand root)
    {
        foreach (var option in new Option[] { _model, _device, _dtype, _libtorch, _quantize, _json }) root.Options.Add(option);
    }

    public RunSettings Read(ParseResult parse, CliContext context) => new(
        parse.GetValue(_model), parse.GetValue(_device) ?? "cpu", parse.GetValue(_dtype) ?? "float32", parse.GetValue(_libtorch),
        parse.GetValue(_json), context.Out, context.Error, context.Interactive) { Quantize = parse.GetValue(_quantize) };
}
