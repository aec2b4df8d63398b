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
        var images = new Argument<string[]>("images") { Description = "Image files or folders of images.", Arity = ArgumentArity.OneOrMore };
        var prompt = new Option<string?>("--prompt") { Description = "Text the caption continues, e.g. \"a photo of\"." };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per forward pass.", DefaultValueFactory = _ => 8 };
        var generation = new GenerationOptionSet();
        var command = new Command("caption", "Caption images.") { images, prompt, batchSize };
        generation.AddTo(command);
        command.SetAction((parse, cancel) => Task.Run(() => Run(
            common.Read(parse, context), parse.GetValue(images)!, parse.GetValue(prompt), parse.GetValue(batchSize), generation.Read(parse), cancel), cancel));
        return command;
    }

    private static int Run(RunSettings settings, string[] arguments, string? prompt, int batchSize, GenerationOptions options, CancellationToken cancel)
    {
        if (batchSize < 1) throw new UsageException($"--batch-size must be at least 1 (got {batchSize})");
        var (files, fromFolders) = ImageInputs.Expand(arguments);
        using var session = ModelSession.Open(settings, ModelKind.Generation, "caption");
        var captioner = Blip2Captioner.FromCheckpoint(session.Model, session.Directory);

        var clock = Stopwatch.StartNew();
        var progress = new ProgressBar(settings.Error, files.Count, settings.Interactive && fromFolders);
        var captions = new List<Caption>();
        foreach (var batch in files.Chunk(batchSize))
        {
            cancel.ThrowIfCancellationRequested();
            var texts = captioner.Caption([.. batch.Select(ImageSource.FromFile)], [.. batch.Select(_ => prompt)], options);
            for (int i = 0; i < batch.Length; i++)
            {
                captions.Add(new Caption(batch[i], texts[i]));
                if (!settings.Json) settings.Out.WriteLine($"{batch[i]}\t{texts[i]}");
            }
            progress.Advance(batch.Length);
        }
        progress.Finish();

        var summary = RunSummary.Since(clock, files.Count);
        if (settings.Json) JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, captions, summary));
        settings.Error.WriteLine(summary);
        return ExitCodes.Success;
    }
}
