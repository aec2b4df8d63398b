using System.CommandLine;
using System.Diagnostics;
using Blip2.Cli.Output;
using Blip2Compiler;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 chat &lt;image&gt;</c>: a conversation about one image through <see cref="Blip2ChatClient"/>, so the
/// prompt is the one the library and the server build (<see cref="ConversationPrompt"/>: LAVIS's "Question: q1
/// Answer: a1. Question: q2 Answer:", the oldest turns dropped when the model's positions run out, with a note).
/// On a terminal it is an interactive loop: a <c>&gt; </c> prompt on stderr, each answer streamed to stdout as it is
/// decoded, the history kept; <c>/quit</c>, Ctrl-D or Ctrl-C (exit 130) end it. Otherwise it reads one question per
/// line of stdin and writes one answer per line of stdout, flushed, so it works in pipes and as a coprocess; the
/// history is kept there too (a follow-up may say "why?"). An empty line asks for a caption (as a chat message with
/// the image and no text does). A question the model cannot take (too long for its positions) is an error line on
/// stderr and an empty answer line, the conversation goes on without it, and the exit code says so at the end.
/// </summary>
internal static class ChatCommand
{
    private sealed record Turn(string Question, string? Answer, int? TurnsKept, int? TurnsDropped, string? Error = null);
    private sealed record Report(string Model, string Image, IReadOnlyList<Turn> Turns, RunSummary Summary);

    private static readonly string[] QuitCommands = ["/quit", "/exit"];

    public static Command Create(CommonOptions common, CliContext context)
    {
        var image = new Argument<string>("image") { Description = "The image file the conversation is about." };
        var generation = new GenerationOptionSet();
        var command = new Command("chat", "Talk about an image: questions typed on a terminal, or one per line on stdin; each answer sees the conversation so far.") { image };
        generation.AddTo(command);
        command.SetAction((parse, cancel) => Task.Run(async () =>
        {
            using var settings = common.Read(parse, context);
            return await RunAsync(settings, context, parse.GetValue(image)!, generation.Read(parse), cancel).ConfigureAwait(false);
        }, cancel));
        return command;
    }

    private static async Task<int> RunAsync(RunSettings settings, CliContext context, string imageArgument, GenerationOptions options, CancellationToken cancel)
    {
        if (imageArgument == StdinImage.Argument) throw new UsageException("chat reads its questions from stdin: give the image as a file");
        var input = ImageInputs.Single(imageArgument, settings);
        var clock = Stopwatch.StartNew();
        using var session = ModelSession.Open(settings, ModelKind.Generation, "chat");
        var checkpoint = Blip2Captioner.FromCheckpoint(session.Model, session.Directory);
        foreach (var note in checkpoint.DefaultsNotes) settings.Note(note);
        // The command line's options over the checkpoint's generation_config.json, for every answer.
        var captioner = new Blip2Captioner(session.Model, checkpoint.Images, checkpoint.Tokenizer, GenerationDefaults.Merge(checkpoint.Defaults, options));
        using var client = new Blip2ChatClient(captioner, session.Compiled.Name);
        // Decoded once here, so an image that cannot be read fails before the first question, not at every one.
        ImageDecoder.Default.Decode(input.Name).Dispose();
        var image = new UriContent(new Uri(Path.GetFullPath(input.Name)), "image/*");

        var terminal = context.InputIsTerminal;
        var stream = terminal && settings.Format == OutputFormat.Text;
        if (terminal) settings.Note($"chatting about {input.Name}: type a question (an empty line captions the image); /quit or Ctrl-D ends");
        // Not disposed: stdin is the process's, and the console's reader is synchronized, so disposing it would wait
        // for a read left pending by Ctrl-C (it hung the exit).
        var lines = new InputLines(context.OpenInputText());
        var history = new List<ChatMessage>();
        var answers = new List<Turn>();
        var exitCode = ExitCodes.Success;
        var reading = false;
        try
        {
            while (true)
            {
                if (terminal)
                {
                    settings.Error.Write("> ");
                    settings.Error.Flush();
                }
                // A console read cannot be cancelled: it is left behind when Ctrl-C ends the loop (the process exits).
                reading = true;
                string? line;
                try { line = await Task.Run(() => lines.ReadLine(), CancellationToken.None).WaitAsync(cancel).ConfigureAwait(false); }
                catch (InputLineTooLongException e)
                {
                    reading = false;
                    Failed("", e);
                    continue;
                }
                reading = false;
                if (line is null)
                {
                    if (terminal) settings.Error.WriteLine();   // Ctrl-D: the summary goes below the prompt
                    break;
                }
                var question = line.Trim();
                if (QuitCommands.Contains(question, StringComparer.OrdinalIgnoreCase)) break;

                var turn = new ChatMessage(ChatRole.User, history.Count == 0 ? [image, new TextContent(question)] : [new TextContent(question)]);
                List<ChatMessage> messages = [.. history, turn];
                ChatResponse response;
                try
                {
                    response = stream ? await StreamAsync(client, messages, settings.Out, cancel).ConfigureAwait(false)
                        : await client.GetResponseAsync(messages, null, cancel).ConfigureAwait(false);
                }
                catch (Blip2Exception e)
                {
                    Failed(question, e);
                    continue;
                }

                history.Add(turn);
                history.AddMessages(response);
                var kept = response.AdditionalProperties?.TryGetValue(ConversationFit.TurnsKeptKey, out int k) == true ? k : 0;
                var dropped = response.AdditionalProperties?.TryGetValue(ConversationFit.TurnsDroppedKey, out int d) == true ? d : 0;
                var answer = new Turn(question, response.Text, kept, dropped);
                answers.Add(answer);
                if (settings.JsonLines) JsonOutput.WriteLine(settings.Out, answer);
                else if (settings.Format == OutputFormat.Text && !stream) WriteLine(settings.Out, Cli.OneLine(response.Text));
                if (dropped > 0)
                    settings.Note($"the conversation no longer fits the model's positions: its {dropped} oldest turn{(dropped == 1 ? " was" : "s were")} left out of this answer's prompt");
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            if (terminal && reading) settings.Error.WriteLine();   // off the prompt's line before the "interrupted" error
            if (settings.Json) WriteReport(settings, session, input, answers, clock);
            throw;
        }

        if (settings.Json) WriteReport(settings, session, input, answers, clock);
        settings.Summary(Summary(clock, answers));
        return exitCode;

        // The question goes, said on stderr (and by an empty answer line on a pipe, so answers stay in step with
        // questions); the conversation stays as it was.
        void Failed(string question, Blip2Exception e)
        {
            settings.Error.WriteLine("blip2: error: " + Cli.OneLine(e.Message));
            exitCode = Math.Max(exitCode, ExitCodes.For(e));
            var failed = new Turn(question, null, null, null, Cli.OneLine(e.Message));
            answers.Add(failed);
            if (settings.JsonLines) JsonOutput.WriteLine(settings.Out, failed);
            else if (settings.Format == OutputFormat.Text && !stream) WriteLine(settings.Out, "");
        }
    }

    // Each piece of the answer written as it is decoded, then the line's end; the pieces make the response.
    private static async Task<ChatResponse> StreamAsync(IChatClient client, List<ChatMessage> messages, TextWriter output, CancellationToken cancel)
    {
        var updates = new List<ChatResponseUpdate>();
        try
        {
            await foreach (var update in client.GetStreamingResponseAsync(messages, null, cancel).ConfigureAwait(false))
            {
                updates.Add(update);
                output.Write(update.Text);
                output.Flush();
            }
        }
        finally
        {
            WriteLine(output, "");
        }
        return updates.ToChatResponse();
    }

    private static void WriteLine(TextWriter output, string text)
    {
        output.WriteLine(text);
        output.Flush();
    }

    private static RunSummary Summary(Stopwatch clock, List<Turn> answers) =>
        RunSummary.Since(clock, 1, failed: answers.Count(a => a.Error is not null), texts: answers.Count(a => a.Error is null));

    private static void WriteReport(RunSettings settings, ModelSession session, ImageInput input, List<Turn> answers, Stopwatch clock) =>
        JsonOutput.Write(settings.Out, new Report(session.Compiled.Name, input.Name, answers, Summary(clock, answers)));
}
