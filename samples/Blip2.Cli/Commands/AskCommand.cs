using System.CommandLine;
using Blip2.Cli.Output;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;

namespace Blip2.Cli.Commands;

/// <summary><c>blip2 ask &lt;image&gt; "&lt;question&gt;"</c>: visual question answering, prompt "Question: {q} Answer:".</summary>
internal static class AskCommand
{
    private sealed record Report(string Model, string Image, string Question, string Answer);

    public static Command Create(CommonOptions common, CliContext context)
    {
        var image = new Argument<string>("image") { Description = "The image file." };
        var question = new Argument<string>("question") { Description = "The question, e.g. \"what is the man holding?\"." };
        var generation = new GenerationOptionSet();
        var command = new Command("ask", "Answer a question about an image.") { image, question };
        generation.AddTo(command);
        command.SetAction((parse, cancel) => Task.Run(() => Run(
            common.Read(parse, context), parse.GetValue(image)!, parse.GetValue(question)!, generation.Read(parse)), cancel));
        return command;
    }

    private static int Run(RunSettings settings, string imageArgument, string question, GenerationOptions options)
    {
        if (string.IsNullOrWhiteSpace(question)) throw new UsageException("the question is empty");
        var file = ImageInputs.Single(imageArgument);
        using var session = ModelSession.Open(settings, ModelKind.Generation, "ask");
        var captioner = Blip2Captioner.FromCheckpoint(session.Model, session.Directory);
        var answer = captioner.Caption([ImageSource.FromFile(file)], [Blip2Captioner.QuestionPrompt(question)], options)[0];

        if (settings.Json) JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, file, question, answer));
        else settings.Out.WriteLine(answer);
        return ExitCodes.Success;
    }
}
