using System.CommandLine;

namespace Blip2.Cli;

/// <summary>Where output goes, where stdin comes from, the environment (the Hugging Face cache's variables), and whether stderr is a terminal (progress bars).</summary>
internal sealed record CliContext(TextWriter Out, TextWriter Error, Func<Stream> Input, bool Interactive)
{
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>Whether stdin is a terminal (blip2 chat: the interactive loop), not a pipe or a file.</summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>stdin as lines of text (blip2 chat's questions); by default <see cref="Input"/> read as UTF-8.</summary>
    public Func<TextReader>? InputText { get; init; }

    public TextReader OpenInputText() => InputText?.Invoke() ?? new StreamReader(Input());
}

/// <summary>The options every command takes (given before or after the command name).</summary>
internal sealed class CommonOptions
{
    private readonly Option<string?> _model = new("--model", "-m")
    {
        Description = "Checkpoint folder (config.json, model.safetensors, tokenizer, preprocessor_config.json), or a Hugging Face model id "
            + "(Salesforce/blip2-opt-2.7b) found in the local Hugging Face cache. Default: the bundled tiny checkpoint (random weights).",
        HelpName = "FOLDER|ID", Recursive = true,
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
        HelpName = "FOLDER", Recursive = true,
    };
    private readonly Option<int?> _threads = OptionValues.WholeNumber("--threads", "CPU threads for the model (torch.set_num_threads); default: libtorch's choice.");
    private readonly Option<bool> _json = new("--json") { Description = "Write results as one JSON document.", Recursive = true };
    private readonly Option<bool> _jsonLines = new("--jsonl") { Description = "Write one JSON object per line, each as soon as it is ready.", Recursive = true };
    private readonly Option<string?> _output = new("--output", "-o") { Description = "Write results to this file instead of stdout.", HelpName = "FILE", Recursive = true };
    private readonly Option<bool> _quiet = new("--quiet", "-q") { Description = "No notes, progress or summary on stderr (errors still).", Recursive = true };
    private readonly Option<string?> _quantize = new Option<string?>("--quantize")
    {
        Description = "Quantize the language model's and vision tower's linear weights at load: int8 or int4 (CPU: float32 compute; CUDA: libtorch's kernels, any --dtype).",
        Recursive = true,
    }.AcceptOnlyFromAmong("none", "int8", "int4");
    private readonly Option<string?> _fileCache = new Option<string?>("--file-cache")
    {
        Description = "After loading, keep the checkpoint file in the OS page cache (a quick next load) or drop what was read into new memory "
            + "(a converting load then reuses those pages: 1.1-1.75x faster on a VM measured, but the next load reads from disk). Default: drop for serve, keep otherwise.",
        Recursive = true,
    }.AcceptOnlyFromAmong("keep", "drop");

    public CommonOptions() => _threads.Recursive = true;

    public void AddTo(Command root)
    {
        foreach (var option in new Option[] { _model, _device, _dtype, _libtorch, _quantize, _fileCache, _threads, _json, _jsonLines, _output, _quiet }) root.Options.Add(option);
    }

    /// <summary>--output as given (convert takes it as the folder to write, not a results file).</summary>
    public string? OutputPath(ParseResult parse) => parse.GetValue(_output);

    /// <summary>Whether --dtype was on the command line (convert keeps the checkpoint's own dtype otherwise).</summary>
    public bool DTypeGiven(ParseResult parse) => parse.GetResult(_dtype) is { Implicit: false };

    /// <summary>The settings of one run; opens --output (the caller disposes the settings, which closes it) unless
    /// <paramref name="openOutput"/> is false (results then go to stdout).</summary>
    public RunSettings Read(ParseResult parse, CliContext context, bool openOutput = true)
    {
        bool json = parse.GetValue(_json), jsonLines = parse.GetValue(_jsonLines);
        if (json && jsonLines) throw new UsageException("--json and --jsonl are alternatives: give one");
        if (parse.GetValue(_threads) is < 1 and var threads) throw new UsageException($"--threads must be at least 1 (got {threads})");
        var output = openOutput ? parse.GetValue(_output) : null;
        var format = json ? OutputFormat.Json : jsonLines ? OutputFormat.JsonLines : OutputFormat.Text;
        return new RunSettings(
            parse.GetValue(_model), parse.GetValue(_device) ?? "cpu", parse.GetValue(_dtype) ?? "float32", parse.GetValue(_libtorch),
            parse.GetValue(_threads), format, parse.GetValue(_quiet),
            output is null ? context.Out : OpenOutput(output), context.Error, context.Input, context.Interactive, OwnsOut: output is not null)
        {
            Environment = context.Environment,
            Quantize = parse.GetValue(_quantize),
            FileCache = parse.GetValue(_fileCache),
        };
    }

    private static StreamWriter OpenOutput(string path)
    {
        if (Directory.Exists(path)) throw new UsageException($"--output '{path}' is a folder: give a file name");
        try
        {
            return new StreamWriter(path, append: false) { AutoFlush = false };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Blip2Compiler.Blip2Exception($"--output '{path}' cannot be written: {e.Message}");
        }
    }
}
