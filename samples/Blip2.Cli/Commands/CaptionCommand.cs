using System.CommandLine;
using System.Diagnostics;
using Blip2.Cli.Output;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 caption &lt;images or folders&gt;...</c>: one caption per image, in batches. An image that cannot be
/// decoded is reported (stderr, and an error record in JSON) and the run goes on (<see cref="ImageBatch"/>); the exit
/// code is 1 if any failed.
/// </summary>
internal static class CaptionCommand
{
    /// <summary>One image's caption; with -n above 1 every returned text, best first, in <see cref="Texts"/>.</summary>
    private sealed record Caption(string Image, string? Text, string? Error = null, IReadOnlyList<string>? Texts = null);
    private sealed record Report(string Model, IReadOnlyList<Caption> Captions, RunSummary Summary);

    public static Command Create(CommonOptions common, CliContext context)
    {
        var images = new Argument<string[]>("images") { Description = "Image files, folders of images, or - for one image on stdin.", Arity = ArgumentArity.OneOrMore };
        var prompt = new Option<string?>("--prompt") { Description = "Text the caption continues, e.g. \"a photo of\"." };
        var batchSize = OptionValues.WholeNumber("--batch-size", "Images per forward pass (default 8).");
        var failFast = new Option<bool>("--fail-fast") { Description = "Stop at the first image that fails (default: report it and go on)." };
        var generation = new GenerationOptionSet();
        var command = new Command("caption", "Caption images.") { images, prompt, batchSize, failFast };
        generation.AddTo(command);
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context);
            return Run(settings, parse.GetValue(images)!, parse.GetValue(prompt), parse.GetValue(batchSize) ?? 8, parse.GetValue(failFast), generation.Read(parse), cancel);
        }, cancel));
        return command;
    }

    private static int Run(RunSettings settings, string[] arguments, string? prompt, int batchSize, bool failFast, GenerationOptions options, CancellationToken cancel)
    {
        if (batchSize < 1) throw new UsageException($"--batch-size must be at least 1 (got {batchSize})");
        var clock = Stopwatch.StartNew();
        var (inputs, _) = ImageInputs.Expand(arguments, settings);
        using var session = ModelSession.Open(settings, ModelKind.Generation, "caption");
        var captioner = Blip2Captioner.FromCheckpoint(session.Model, session.Directory);
        foreach (var note in captioner.DefaultsNotes) settings.Note(note);
        // Without -n one text per image, whatever the checkpoint's num_return_sequences says (as before -n existed).
        var several = options.NumReturnSequences is > 1;
        options = options.NumReturnSequences is null ? options with { NumReturnSequences = 1 } : options;

        var progress = new ProgressBar(settings.Error, inputs.Count, settings.Interactive && !settings.Quiet && inputs.Count > 1);
        var results = new ResultWriter<Caption>(settings, progress);
        bool interrupted = false;
        try
        {
            foreach (var batch in inputs.Chunk(batchSize))
            {
                cancel.ThrowIfCancellationRequested();
                // Ctrl-C ends the batch in progress at its next decoding step (its captions are not written).
                var (texts, failures) = ImageBatch.Run(batch, images => captioner.Captions(images, [.. images.Select(_ => prompt)], options, cancel), failFast);
                for (int i = 0; i < batch.Length; i++)
                {
                    if (failures.TryGetValue(batch[i].Name, out var error)) results.Failure(new Caption(batch[i].Name, null, error.Problem), error);
                    else if (texts.TryGetValue(i, out var all))
                    {
                        // -n: one line per returned text in text output, all of them as an array in JSON.
                        var lines = string.Join(Environment.NewLine, all.Select(text => $"{batch[i].Name}\t{text}"));
                        results.Result(new Caption(batch[i].Name, all[0], Texts: several ? all : null), lines);
                    }
                }
                progress.Advance(batch.Length);
                if (failFast && failures.Count > 0) break;
            }
        }
        catch (OperationCanceledException)
        {
            interrupted = true;
        }
        progress.Clear();

        var summary = RunSummary.Since(clock, results.Succeeded, results.Failed);
        if (settings.Json) JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, results.Records, summary));
        settings.Summary(summary);
        if (interrupted) throw new OperationCanceledException(cancel);
        return results.Failed > 0 ? ExitCodes.Failure : ExitCodes.Success;
    }
}
