using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Blip2.Cli;
using Blip2Compiler.Processing;
using Blip2Compiler.Tests.AI;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>
/// <c>blip2 chat &lt;image&gt;</c>: one question per line on a pipe, an interactive loop on a terminal (a real
/// pseudo-terminal, through util-linux's <c>script</c>), each answer the captioner's on the prompt LAVIS's example
/// builds from the conversation so far.
/// </summary>
public class ChatCommandTests(TinyModels models) : IClassFixture<TinyModels>
{
    private const int NewTokens = 5;

    private string Reference(string? prompt, int maxNew = NewTokens) =>
        models.Captioner.Caption([ImageSource.FromFile(CliRun.Photo)], [prompt], new() { MaxNewTokens = maxNew })[0];

    private static ProcessStartInfo Cli(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return start;
    }

    private static string CliExecutable => Path.Combine(CliRun.CliOutput, "Blip2.Cli");

    [Fact]
    public async Task OnAPipeEachLineIsAQuestionAnsweredOnOneLineWithTheConversationSoFar()
    {
        // A real process talked to as a coprocess: each answer is read before the next question is written, so
        // every answer is flushed as it is ready. Ctrl-C while it waits for a question ends it with 130.
        using var process = Process.Start(Cli(CliExecutable, "chat", CliRun.Photo, "--max-new-tokens", NewTokens.ToString(), "--model", CliRun.TinyOpt))!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        async Task<string> Ask(string line)
        {
            await process.StandardInput.WriteLineAsync(line);
            await process.StandardInput.FlushAsync();
            return (await process.StandardOutput.ReadLineAsync(patience.Token))!;
        }

        var first = await Ask("what is it?");
        var firstReference = Reference("Question: what is it? Answer:");
        Assert.Equal(Blip2.Cli.Cli.OneLine(firstReference), first);
        var second = await Ask("why?");
        Assert.Equal(Blip2.Cli.Cli.OneLine(Reference($"Question: what is it? Answer: {firstReference}. Question: why? Answer:")), second);
        Assert.Equal(Blip2.Cli.Cli.OneLine(Reference(null)), await Ask(""));   // an empty line: a caption

        using (var kill = Process.Start("kill", ["-s", "INT", process.Id.ToString()])) await kill.WaitForExitAsync();
        await process.WaitForExitAsync(patience.Token);
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}:\n{await stderr}");
        Assert.EndsWith("blip2: error: interrupted", (await stderr).TrimEnd());
        Assert.Equal("", await process.StandardOutput.ReadToEndAsync());
    }

    [Fact]
    public async Task OnATerminalItPromptsStreamsEachAnswerAndCtrlCExits130()
    {
        // util-linux's script runs the CLI on a new pseudo-terminal (stdin, stdout and stderr all a terminal); what
        // is written to script goes in as typed keys: Enter is \r, Ctrl-C is \x03 (the terminal sends SIGINT).
        var script = new[] { "/usr/bin/script", "/bin/script" }.FirstOrDefault(File.Exists);
        Assert.True(script is not null, "util-linux's script (Debian's bsdutils, an essential package) is needed for the terminal test");
        var command = string.Join(' ', new[] { CliExecutable, "chat", CliRun.Photo, "--max-new-tokens", NewTokens.ToString(), "--model", CliRun.TinyOpt }
            .Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        using var process = Process.Start(Cli(script, "-qfec", command, "/dev/null"))!;
        var screen = new StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await process.StandardOutput.ReadAsync(buffer)) > 0) lock (screen) screen.Append(buffer, 0, n);
        });
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        async Task WaitForPrompt(int count)
        {
            while (true)
            {
                lock (screen) if (Count(screen.ToString(), "> ") >= count) return;
                Assert.False(process.HasExited, $"the chat ended early:\n{screen}");
                Assert.False(patience.IsCancellationRequested, $"no prompt {count} in 120 s:\n{screen}");
                await Task.Delay(50);
            }
        }
        async Task Type(string keys)
        {
            await process.StandardInput.WriteAsync(keys);
            await process.StandardInput.FlushAsync();
        }

        await WaitForPrompt(1);
        await Type("what is it?\r");
        await WaitForPrompt(2);
        await Type("why?\r");
        await WaitForPrompt(3);
        await Type("\x03");
        await process.WaitForExitAsync(patience.Token);
        await reading;

        var transcript = screen.ToString();
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}:\n{transcript}");
        var first = Reference("Question: what is it? Answer:");
        var second = Reference($"Question: what is it? Answer: {first}. Question: why? Answer:");
        // Each answer on its own line after the typed question's echo, then the next prompt (the terminal writes \n as
        // \r\n). Keys that arrive before the reader takes the terminal are echoed twice, once by the terminal itself,
        // so the echo is not compared.
        var firstAt = transcript.IndexOf($"?\r\n{first}\r\n> ", StringComparison.Ordinal);
        var secondAt = firstAt < 0 ? -1 : transcript.IndexOf($"why?\r\n{second}\r\n> ", firstAt, StringComparison.Ordinal);
        Assert.True(firstAt >= 0 && secondAt > firstAt, $"expected the answers\n{Escape(first)}\n{Escape(second)}\nin\n{Escape(transcript)}");
        Assert.EndsWith("blip2: error: interrupted", transcript.TrimEnd());
    }

    [Fact]
    public async Task InProcessOnATerminalTheSummaryFollowsTheEndOfInput()
    {
        var terminal = new StringWriter();
        var context = new CliContext(terminal, terminal, () => Stream.Null, Interactive: true)
        {
            InputIsTerminal = true, InputText = () => new StringReader("what is it?\n"),   // then Ctrl-D
        };
        var code = await Blip2.Cli.Cli.RunAsync(["chat", CliRun.Photo, "--max-new-tokens", NewTokens.ToString(), "--model", CliRun.TinyOpt], context);
        var transcript = terminal.ToString();
        Assert.True(code == 0, transcript);
        Assert.Contains("blip2: note: chatting about", transcript);
        // No echo here (a StringReader is not a terminal): the prompt, the answer, the next prompt.
        Assert.Contains($"> {Reference("Question: what is it? Answer:")}\n> ", transcript.ReplaceLineEndings("\n"));
        Assert.StartsWith("blip2: 1 image, 1 text in ", transcript.ReplaceLineEndings("\n").TrimEnd().Split('\n')[^1]);
    }

    [Fact]
    public async Task JsonLinesSayWhenTheOldestTurnsWereLeftOut()
    {
        // 10-word questions and 20 new tokens: the tiny OPT's 128 positions hold the first turns, then the oldest go.
        var question = string.Join(' ', Enumerable.Repeat("what", 10));
        var stdin = string.Join('\n', Enumerable.Repeat(question, 6)) + "\n";
        var run = await RunChat(stdin, "--jsonl", "--max-new-tokens", "20");
        Assert.True(run.ExitCode == 0, run.Error);
        var turns = run.OutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(6, turns.Count);
        Assert.All(turns, t => Assert.Equal(question, t.GetProperty("question").GetString()));
        Assert.Equal(0, turns[0].GetProperty("turns_kept").GetInt32());
        Assert.Contains(turns, t => t.GetProperty("turns_kept").GetInt32() > 0);
        var dropped = turns.Select(t => t.GetProperty("turns_dropped").GetInt32()).ToList();
        Assert.Equal(0, dropped[0]);
        Assert.True(dropped[^1] > 0, string.Join(",", dropped));
        // Each answer's prompt holds every earlier turn but the dropped ones.
        for (var i = 0; i < turns.Count; i++) Assert.Equal(i, turns[i].GetProperty("turns_kept").GetInt32() + dropped[i]);
        Assert.Contains(run.ErrorLines, l => l.StartsWith("blip2: note: the conversation no longer fits the model's positions"));

        // The last answer is the captioner's on the LAVIS prompt of the kept turns.
        var kept = turns.Take(5).Skip(dropped[^1]).Select(t => $"Question: {question} Answer: {t.GetProperty("answer").GetString()}.");
        Assert.Equal(Reference(string.Join(" ", kept) + $" Question: {question} Answer:", 20), turns[^1].GetProperty("answer").GetString());
    }

    [Fact]
    public async Task AQuestionTooLongForTheModelIsAnErrorAndTheConversationGoesOn()
    {
        var tooLong = string.Join(' ', Enumerable.Repeat("why is the astronaut holding the flag so high above the moon", 12));
        var run = await RunChat($"{tooLong}\nwhat is it?\n/quit\nnever asked\n");
        Assert.Equal(2, run.ExitCode);   // as a prompt too long for --max-new-tokens is, for ask and caption
        Assert.Equal(["", Blip2.Cli.Cli.OneLine(Reference("Question: what is it? Answer:"))], run.Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'));
        Assert.Contains(run.ErrorLines, l => l.StartsWith("blip2: error: ") && l.Contains("128 positions"));
        Assert.Contains("1 input failed", run.ErrorLines[^1]);
    }

    [Fact]
    public async Task ALineLongerThanTheLimitIsDroppedWithAnError()
    {
        // Read to its end, never held whole: the next line is the next question.
        var run = await RunChat(new string('a', InputLines.MaxChars + 1) + "\nwhat is it?\r\n");
        Assert.Equal(1, run.ExitCode);
        Assert.Equal(["", Blip2.Cli.Cli.OneLine(Reference("Question: what is it? Answer:"))], run.Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'));
        Assert.Contains(run.ErrorLines, l => l.StartsWith("blip2: error: a line of stdin has 1,048,577 characters"));
        // \n, \r\n and \r (a terminal's Enter) end a line; the end of input ends the last.
        var lines = new InputLines(new StringReader("a\nb\r\n\r\nc\rd"));
        Assert.Equal(["a", "b", "", "c", "d", null], Enumerable.Range(0, 6).Select(_ => lines.ReadLine(1)));
        Assert.Null(new InputLines(new StringReader("")).ReadLine());
        Assert.Throws<InputLineTooLongException>(() => new InputLines(new StringReader("ab")).ReadLine(1));
    }

    [Fact]
    public async Task TheImageComesAsAFileAndMustDecode()
    {
        (await RunChat("what?\n", "-")).AssertOneError(2);
        using var temp = new TempFolder();
        var broken = Path.Combine(temp.Path, "broken.png");
        File.WriteAllBytes(broken, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);
        var run = await RunChat("what?\n", broken, "-q");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("broken.png", Assert.Single(run.ErrorLines));
        (await RunChat("what?\n", CliRun.Photo, "--model", CliRun.TinyItm)).AssertOneError(2);
    }

    /// <summary>An in-process chat reading <paramref name="stdin"/> (not a terminal); the image is the photo unless the arguments start with another.</summary>
    private static async Task<CliRun> RunChat(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string[] image = args.Length > 0 && !args[0].StartsWith("--") ? [] : [CliRun.Photo];
        string[] model = args.Contains("--model") ? [] : ["--model", CliRun.TinyOpt];
        var context = new CliContext(stdout, stderr, () => new MemoryStream(Encoding.UTF8.GetBytes(stdin)), Interactive: false);
        var code = await Blip2.Cli.Cli.RunAsync(["chat", .. image, .. args, .. model, .. args.Contains("--max-new-tokens") ? [] : new[] { "--max-new-tokens", NewTokens.ToString() }], context);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    private static string Escape(string text) =>
        string.Concat(text.Select(c => c < ' ' || c == 0x7f ? $"\\x{(int)c:x2}" : c.ToString()));

    private static int Count(string text, string part)
    {
        int count = 0, at = 0;
        while ((at = text.IndexOf(part, at, StringComparison.Ordinal)) >= 0) { count++; at += part.Length; }
        return count;
    }
}
