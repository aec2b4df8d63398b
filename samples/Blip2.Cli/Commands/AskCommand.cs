using System.CommandLine;
using System.Diagnostics;
using Blip2.Cli.Output;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;

namespace Blip2.Cli.Commands;

/// <summary><c>blip2 ask &lt;image&gt; "&lt;question&gt;"</c>: visual question answering, prompt "Question: {q} Answer:".</summary>
internal static class AskCommand
{
    private sealed record Answered(string Image, string Question, string Answer, IReadOnlyList<string>? Answers = null);
    private sealed record Report(string Model, string Image, string Question, string Answer, RunSummary Summary, IReadOnlyList<string>? Answers = null);

    public static Command Create(CommonOptions common, CliContext context)
    {
        var image = new Argument<string>("image") { Description = "The image file, or - for one image on stdin." };
        var question = new Argument<string>("question") { Description = "The question, e.g. \"what is the man holding?\"." };
        var generation = new GenerationOptionSet();
        var command = new Command("ask", "Answer a question about an image.") { image, question };
        generation.AddTo(command);
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context);
            return Run(settings, parse.GetValue(image)!, parse.GetValue(question)!, generation.Read(parse), cancel);
        }, cancel));
        return command;
    }

    private static int Run(RunSettings settings, string imageArgument, string question, GenerationOptions options, CancellationToken cancel)
    {
        if (string.IsNullOrWhiteSpace(question)) throw new UsageException("the question is empty");
        var clock = Stopwatch.StartNew();
        var input = ImageInputs.Single(imageArgument, settings);
        using var session = ModelSession.Open(settings, ModelKind.Generation, "ask");
        var captioner = Blip2Captioner.FromCheckpoint(session.Model, session.Directory);
        foreach (var note in captioner.DefaultsNotes) settings.Note(note);
        var prompt = Blip2Captioner.QuestionPrompt(question);
        var answers = captioner.Captions([input.Source], [prompt], options.NumReturnSequences is null ? options with { NumReturnSequences = 1 } : options, cancel)[0];
        var answer = answers[0];
        // -n: every answer, best first: one per line, or an array in JSON.
        var all = options.NumReturnSequences is > 1 ? answers : null;

        var summary = RunSummary.Since(clock, 1);
        if (settings.Json) JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, input.Name, question, answer, summary, all));
        else if (settings.JsonLines) JsonOutput.WriteLine(settings.Out, new Answered(input.Name, question, answer, all));
        else foreach (var line in answers) settings.Out.WriteLine(line);
        settings.Summary(summary);
        return ExitCodes.Success;
    }
}
