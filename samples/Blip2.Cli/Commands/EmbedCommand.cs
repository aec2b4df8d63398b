using System.CommandLine;
using System.Diagnostics;
using Blip2.Cli.Output;
using Blip2Compiler.AI;
using Blip2Compiler.Models;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 embed &lt;images or folders&gt;... [--text "…"]...</c>: L2-normalized embeddings in the shared image–text
/// space, as JSON. Arguments are always images (a missing one is an error, never embedded as a text); texts are
/// given with --text. Images first, then texts, each in the order given. An image that cannot be decoded is
/// reported and the run goes on, as in caption.
/// </summary>
internal static class EmbedCommand
{
    private sealed record Embedded(string Input, string Kind, float[]? Embedding, string? Error = null);
    private sealed record Report(string Model, int Dimensions, IReadOnlyList<Embedded> Embeddings, RunSummary Summary);

    private const int BatchSize = 8;

    public static Command Create(CommonOptions common, CliContext context)
    {
        var images = new Argument<string[]>("images") { Description = "Image files, folders of images, or - for one image on stdin.", Arity = ArgumentArity.ZeroOrMore };
        var texts = new Option<string[]>("--text", "-t") { Description = "A text to embed (repeat for more).", HelpName = "TEXT" };
        var failFast = new Option<bool>("--fail-fast") { Description = "Stop at the first image that fails (default: report it and go on)." };
        var command = new Command("embed", "Embed images, and texts given with --text (normalized vectors, JSON).") { images, texts, failFast };
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context);
            return Run(settings, parse.GetValue(images) ?? [], parse.GetValue(texts) ?? [], parse.GetValue(failFast), cancel);
        }, cancel));
        return command;
    }

    private static int Run(RunSettings settings, string[] imageArguments, string[] texts, bool failFast, CancellationToken cancel)
    {
        // Embeddings are JSON whatever the format: one document, or --jsonl's object per input.
        if (settings.Format == OutputFormat.Text) settings = settings with { Format = OutputFormat.Json };
        if (imageArguments.Length == 0 && texts.Length == 0)
            throw new UsageException("nothing to embed: give images (files, folders, -) and/or texts with --text");
        var clock = Stopwatch.StartNew();
        var (inputs, _) = imageArguments.Length > 0 ? ImageInputs.Expand(imageArguments, settings, "to embed a text, give it with --text") : ([], false);

        using var session = ModelSession.Open(settings, ModelKind.Retrieval, "embed");
        var retriever = Blip2Retriever.FromCheckpoint((ImageTextRetrieval)session.Model, session.Directory);
        var progress = new ProgressBar(settings.Error, inputs.Count, settings.Interactive && !settings.Quiet && inputs.Count > 1);
        var results = new ResultWriter<Embedded>(settings, progress);
        bool interrupted = false, stopped = false;
        int images = 0, embeddedTexts = 0;
        try
        {
            foreach (var batch in inputs.Chunk(BatchSize))
            {
                cancel.ThrowIfCancellationRequested();
                var (vectors, failures) = ImageBatch.Run(batch, retriever.EmbedImages, failFast);
                for (int i = 0; i < batch.Length; i++)
                {
                    if (failures.TryGetValue(batch[i].Name, out var error)) results.Failure(new Embedded(batch[i].Name, "image", null, error.Problem), error);
                    else if (vectors.TryGetValue(i, out var vector)) { results.Result(new Embedded(batch[i].Name, "image", vector), ""); images++; }
                }
                progress.Advance(batch.Length);
                if (stopped = failFast && failures.Count > 0) break;
            }
            if (!stopped)
                foreach (var batch in texts.Chunk(BatchSize))
                {
                    cancel.ThrowIfCancellationRequested();
                    var vectors = retriever.EmbedTexts(batch);
                    for (int i = 0; i < batch.Length; i++) results.Result(new Embedded(batch[i], "text", vectors[i]), "");
                    embeddedTexts += batch.Length;
                }
        }
        catch (OperationCanceledException)
        {
            interrupted = true;
        }
        progress.Clear();

        var summary = RunSummary.Since(clock, images, results.Failed, texts: embeddedTexts);
        if (settings.Json) JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, retriever.Dimensions, results.Records, summary));
        settings.Summary(summary);
        if (interrupted) throw new OperationCanceledException(cancel);
        return results.Failed > 0 ? ExitCodes.Failure : ExitCodes.Success;
    }

}
