using System.CommandLine;
using System.Diagnostics;
using Blip2.Cli.Output;
using Blip2Compiler;
using Blip2Compiler.Checkpoints;
using TorchSharp;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 convert &lt;folder&gt; --to safetensors [-o out]</c>: loads a checkpoint (safetensors or
/// <c>pytorch_model.bin</c>, single or sharded) into its compiled class — so every key, shape and dtype is checked —
/// and writes it back with <see cref="Blip2Compiler.Models.Blip2PreTrainedModel.SaveCheckpoint"/>: Hugging Face's layout
/// and key names, config, tokenizer and processor files beside it. The weights keep the checkpoint's own float dtype
/// (all one dtype, as published checkpoints are) unless --dtype is given.
/// </summary>
internal static class ConvertCommand
{
    private sealed record Converted(string Model, string From, string To, string DType, IReadOnlyList<string> Files, long Bytes, RunSummary Summary);

    public static Command Create(CommonOptions common, CliContext context)
    {
        var folder = new Argument<string>("folder") { Description = "The checkpoint folder (or a Hugging Face model id in the local cache) to convert." };
        var to = new Option<string>("--to") { Description = "The format to write: safetensors.", Required = true }.AcceptOnlyFromAmong("safetensors");
        var command = new Command("convert", "Convert a checkpoint (e.g. pytorch_model.bin) to safetensors in Hugging Face's layout; -o names the folder to write (default: the checkpoint's own).") { folder, to };
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context, openOutput: false);
            return Run(settings, parse.GetValue(folder)!, common.OutputPath(parse), common.DTypeGiven(parse));
        }, cancel));
        return command;
    }

    private static int Run(RunSettings settings, string folderArgument, string? output, bool dtypeGiven)
    {
        if (settings.Quantize is "int8" or "int4")
            throw new UsageException("--quantize does not apply to convert: quantized weights have no Hugging Face layout (SaveCheckpoint writes them dequantized, as float32)");
        var clock = Stopwatch.StartNew();
        var directory = ModelLocation.Resolve(folderArgument, settings.Environment);
        if (output is null && !Directory.Exists(folderArgument))
            throw new UsageException($"'{folderArgument}' is a model id in the Hugging Face cache: give -o <folder> to write the converted checkpoint outside the cache");
        var target = output ?? directory;
        if (File.Exists(target)) throw new UsageException($"-o '{target}' is a file: give the folder to write the checkpoint into");

        var compiled = ModelCatalog.Resolve(directory);
        var options = settings.LoadOptions();
        if (!dtypeGiven && StoredDType(directory) is { } stored) options = options with { DType = stored };
        using var model = compiled.Load(directory, options);
        model.SaveCheckpoint(target);

        var files = Directory.EnumerateFiles(target, "model*.safetensors*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var bytes = files.Sum(f => new FileInfo(Path.Combine(target, f!)).Length);
        var summary = RunSummary.Since(clock, 0);
        var dtype = options.DType.ToString().ToLowerInvariant();
        if (settings.Json) JsonOutput.Write(settings.Out, new Converted(compiled.Name, directory, target, dtype, files!, bytes, summary));
        else settings.Out.WriteLine($"{target}\t{string.Join(",", files)}\t{bytes} bytes\t{dtype}");
        settings.Summary(summary);
        return ExitCodes.Success;
    }

    /// <summary>The checkpoint's float dtype when all its floating-point tensors share one (headers only).</summary>
    private static torch.ScalarType? StoredDType(string directory)
    {
        using var checkpoint = Checkpoint.Open(directory);
        var types = checkpoint.Keys.Select(k => checkpoint.Info(k).DType)
            .Where(t => t is torch.ScalarType.Float32 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Float64)
            .Distinct().ToList();
        return types is [var only] && only != torch.ScalarType.Float64 ? only : null;
    }
}
