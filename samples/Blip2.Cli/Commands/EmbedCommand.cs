using System.CommandLine;
using System.Diagnostics;
using Blip2.Cli.Output;
using Blip2Compiler;
using Blip2Compiler.AI;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 embed &lt;images or texts&gt;...</c>: L2-normalized embeddings in the shared image–text space, as JSON.
/// An argument that is an existing file or folder is an image (or images); anything else is a text.
/// </summary>
internal static class EmbedCommand
{
    private sealed record Embedded(string Input, string Kind, float[] Embedding);
    private sealed record Report(string Model, int Dimensions, IReadOnlyList<Embedded> Embeddings, RunSummary Summary);

    private const int BatchSize = 8;

    public static Command Create(CommonOptions common, CliContext context)
    {
        var inputs = new Argument<string[]>("inputs") { Description = "Image files, folders of images, or texts.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("embed", "Embed images and texts (normalized vectors, JSON).") { inputs };
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context);
            return Run(settings, parse.GetValue(inputs)!, cancel);
        }, cancel));
        return command;
    }

    private static int Run(RunSettings settings, string[] inputs, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        var items = new List<(string Input, ImageSource? Image)>();
        foreach (var input in inputs)
        {
            if (input == StdinImage.Argument || File.Exists(input) || Directory.Exists(input))
                items.AddRange(ImageInputs.Expand([input], settings).Images.Select(i => (i.Name, (ImageSource?)i.Source)));
            else if ((ImageInputs.IsImageFile(input) || input.StartsWith('-')) && !input.Contains(' '))
                throw ImageInputs.Missing([input]);
            else items.Add((input, null));
        }

        using var session = ModelSession.Open(settings, ModelKind.Retrieval, "embed");
        var retriever = Blip2Retriever.FromCheckpoint((ImageTextRetrieval)session.Model, session.Directory);
        var vectors = new Dictionary<int, float[]>();
        var imageIndices = items.Select((item, i) => (item, i)).Where(x => x.item.Image is not null).Select(x => x.i).ToList();
        var textIndices = items.Select((item, i) => (item, i)).Where(x => x.item.Image is null).Select(x => x.i).ToList();
        foreach (var batch in imageIndices.Chunk(BatchSize))
        {
            cancel.ThrowIfCancellationRequested();
            var embedded = retriever.EmbedImages([.. batch.Select(i => items[i].Image!)]);
            for (int j = 0; j < batch.Length; j++) vectors[batch[j]] = embedded[j];
        }
        foreach (var batch in textIndices.Chunk(BatchSize))
        {
            var embedded = retriever.EmbedTexts([.. batch.Select(i => items[i].Input)]);
            for (int j = 0; j < batch.Length; j++) vectors[batch[j]] = embedded[j];
        }

        var results = items.Select((item, i) => new Embedded(item.Input, item.Image is not null ? "image" : "text", vectors[i])).ToList();
        var summary = RunSummary.Since(clock, imageIndices.Count, texts: textIndices.Count);
        // Embeddings are JSON whatever the format; --jsonl writes one object per input.
        if (settings.JsonLines) foreach (var r in results) JsonOutput.WriteLine(settings.Out, r);
        else JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, retriever.Dimensions, results, summary));
        settings.Summary(summary);
        return ExitCodes.Success;
    }
}
