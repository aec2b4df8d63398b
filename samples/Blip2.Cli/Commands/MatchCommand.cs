using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Blip2.Cli.Output;
using Blip2Compiler.AI;
using Blip2Compiler.Models;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 match &lt;image&gt; "&lt;text&gt;"...</c>: for each text, the matching head's probability that it
/// describes the image (softmax of the ITM logits, class 1) and the contrastive similarity (ITC).
/// </summary>
internal static class MatchCommand
{
    private sealed record Score(string Text, double ItmProbability, double ItcSimilarity);
    private sealed record ScoreLine(string Image, string Text, double ItmProbability, double ItcSimilarity);
    private sealed record Report(string Model, string Image, IReadOnlyList<Score> Scores, RunSummary Summary);

    public static Command Create(CommonOptions common, CliContext context)
    {
        var image = new Argument<string>("image") { Description = "The image file, or - for one image on stdin." };
        var texts = new Argument<string[]>("texts") { Description = "Texts to score against the image.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("match", "Score how well texts describe an image (image-text matching and contrastive similarity).") { image, texts };
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            using var settings = common.Read(parse, context);
            return Run(settings, parse.GetValue(image)!, parse.GetValue(texts)!);
        }, cancel));
        return command;
    }

    private static int Run(RunSettings settings, string imageArgument, string[] texts)
    {
        var clock = Stopwatch.StartNew();
        var input = ImageInputs.Single(imageArgument, settings);
        using var session = ModelSession.Open(settings, ModelKind.Retrieval, "match");
        var retriever = Blip2Retriever.FromCheckpoint((ImageTextRetrieval)session.Model, session.Directory);
        var scores = retriever.Match(input.Source, texts)
            .Select(s => new Score(s.Text, s.MatchProbability, s.Similarity)).ToList();

        var summary = RunSummary.Since(clock, 1, texts: texts.Length);
        if (settings.Json) JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, input.Name, scores, summary));
        else if (settings.JsonLines)
            foreach (var s in scores) JsonOutput.WriteLine(settings.Out, new ScoreLine(input.Name, s.Text, s.ItmProbability, s.ItcSimilarity));
        else
        {
            settings.Out.WriteLine("itm\titc\ttext");
            foreach (var s in scores)
                settings.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{s.ItmProbability:0.0000}\t{s.ItcSimilarity:0.0000}\t{s.Text}"));
        }
        settings.Summary(summary);
        return ExitCodes.Success;
    }
}
