using System.CommandLine;
using System.Diagnostics;
using Blip2.Cli.Output;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;

namespace Blip2.Cli.Commands;

/// <summary><c>blip2 caption &lt;images or folders&gt;...</c>: one caption per image, in batches.</summary>
internal static class CaptionCommand
{
    private sealed record Caption(string Image, string Text);
    private sealed record Report(string Model, IReadOnlyList<Caption> Captions, RunSummary Summary);

    public static Command Create(CommonOptions common, CliContext context)
    {
        var images = new Argument<string[]>("images") { Description = "Image files, folders of images, or - for one image on stdin.", Arity = ArgumentArity.OneOrMore };
        var prompt = new Option<string?>("--prompt") { Description = "Text the caption continues, e.g. \"a photo of\"." };
        var batchSize = OptionValues.WholeNumber("--batch-size", "Images per forward pass (default 8).");
        var generation = new GenerationOptionSet();
        var command = new Command("caption", "Caption images.") { images, prompt, batchSize };
        generation.AddTo(command);
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context);
            return Run(settings, parse.GetValue(images)!, parse.GetValue(prompt), parse.GetValue(batchSize) ?? 8, generation.Read(parse), cancel);
        }, cancel));
        return command;
    }

    private static int Run(RunSettings settings, string[] arguments, string? prompt, int batchSize, GenerationOptions options, CancellationToken cancel)
    {
        if (batchSize < 1) throw new UsageException($"--batch-size must be at least 1 (got {batchSize})");
        var clock = Stopwatch.StartNew();
        var (files, fromFolders) = ImageInputs.Expand(arguments, settings);
        using var session = ModelSession.Open(settings, ModelKind.Generation, "caption");
        var captioner = Blip2Captioner.FromCheckpoint(session.Model, session.Directory);

        var progress = new ProgressBar(settings.Error, files.Count, settings.Interactive && fromFolders);
        var captions = new List<Caption>();
        foreach (var batch in files.Chunk(batchSize))
        {
            cancel.ThrowIfCancellationRequested();
            var texts = captioner.Caption([.. batch.Select(i => i.Source)], [.. batch.Select(_ => prompt)], options);
            for (int i = 0; i < batch.Length; i++)
            {
                captions.Add(new Caption(batch[i].Name, texts[i]));
                if (settings.JsonLines) JsonOutput.WriteLine(settings.Out, captions[^1]);
                else if (!settings.Json) settings.Out.WriteLine($"{batch[i].Name}\t{texts[i]}");
            }
            progress.Advance(batch.Length);
        }
        progress.Finish();

        var summary = RunSummary.Since(clock, files.Count);
        if (settings.Json) JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, captions, summary));
        settings.Summary(summary);
        return ExitCodes.Success;
    }
}
