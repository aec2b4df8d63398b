using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Blip2.Cli;
using Blip2.Cli.Output;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>The progress bar on a terminal, and Ctrl-C (issue 12, item 4).</summary>
public class ProgressTests
{
    [Fact]
    public void BarShowsCountRateAndTimeLeft()
    {
        Assert.Equal("[#########---------------] 12/32 images  3.0 images/s  ETA 0:07", ProgressBar.Render(12, 32, TimeSpan.FromSeconds(4)));
        Assert.Equal("[------------------------] 0/32 images", ProgressBar.Render(0, 32, TimeSpan.Zero));
        Assert.EndsWith("ETA 1:23:20", ProgressBar.Render(1, 5001, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task OnATerminalEveryLineStartsClean()
    {
        // stdout and stderr on one terminal: what the user sees once the control characters have done their work.
        var terminal = new StringWriter();
        var files = new[] { CliRun.Photo, CliRun.Photo, CliRun.Photo };
        var code = await Cli.RunAsync(["caption", .. files, "--batch-size", "1", "--max-new-tokens", "2", "--model", CliRun.TinyOpt],
            new CliContext(terminal, terminal, () => Stream.Null, Interactive: true));
        var transcript = terminal.ToString();
        Assert.True(code == 0, transcript);
        Assert.Contains("images/s  ETA", transcript);

        var screen = Screen(transcript);
        Assert.Equal(4, screen.Count);
        Assert.All(screen.Take(3), line => Assert.StartsWith(CliRun.Photo + "\t", line));
        Assert.StartsWith("blip2: 3 images in ", screen[3]);
    }

    [Fact]
    public async Task OneImageOrNoTerminalDrawsNoBar()
    {
        var terminal = new StringWriter();
        await Cli.RunAsync(["caption", CliRun.Photo, "--max-new-tokens", "2", "--model", CliRun.TinyOpt], new CliContext(terminal, terminal, () => Stream.Null, Interactive: true));
        Assert.DoesNotContain("[#", terminal.ToString());
        var piped = await CliRun.Run("caption", CliRun.Photo, CliRun.Photo, "--max-new-tokens", "2", "--model", CliRun.TinyOpt);
        Assert.DoesNotContain("\r", piped.Error);
    }

    [Fact]
    public async Task CtrlCStopsARealProcessWithExitCode130AndKeepsItsLines()
    {
        // The CLI as a child process, SIGINT sent as a terminal's Ctrl-C would: exit 130, every line written is whole.
        // Run from the CLI's own output: its runtimeconfig names the libtorch folder kept aside there.
        var start = new ProcessStartInfo(Path.Combine(CliRun.CliOutput, "Blip2.Cli"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        foreach (var arg in new[] { "caption", "--jsonl", "--batch-size", "1", "--max-new-tokens", "10", "--model", CliRun.TinyOpt })
            start.ArgumentList.Add(arg);
        const int Images = 2000;
        for (int i = 0; i < Images; i++) start.ArgumentList.Add(CliRun.Photo);

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<string> { (await process.StandardOutput.ReadLineAsync())! };
        using (var kill = Process.Start("kill", ["-s", "INT", process.Id.ToString()])) await kill.WaitForExitAsync();
        var rest = await process.StandardOutput.ReadToEndAsync();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(patience.Token);

        lines.AddRange(rest.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}:\n{await stderr}");
        Assert.Contains("blip2: error: interrupted", await stderr);
        Assert.InRange(lines.Count, 1, Images - 1);
        Assert.All(lines, line => Assert.Equal(CliRun.Photo, JsonDocument.Parse(line).RootElement.GetProperty("image").GetString()));
    }

    [Fact]
    public async Task CtrlCStopsTheCaptionBeingDecodedAtItsNextStep()
    {
        // A junk image first, whose error line is written before any decoding; then a photo whose beam search would
        // decode 30,000 tokens (Flan-T5's decoder has no position table; EOS held back to the end) over a cache as
        // long, far past the patience below. Ctrl-C comes just after the junk image's line, as the photo is decoded:
        // the run ends at the next step with 130, and the unfinished caption is not written.
        using var temp = new TempFolder();
        var junk = temp.File("a.png", "not a PNG at all");
        var photo = temp.File("b.png");
        File.Copy(CliRun.Photo, photo);
        using var interrupt = new CancellationTokenSource();
        var stdout = new StringWriter();
        var stderr = new NotifyingWriter(junk, () => interrupt.CancelAfter(TimeSpan.FromMilliseconds(300)));
        var run = Cli.RunAsync(["caption", junk, photo, "--batch-size", "1", "--beams", "4", "--max-new-tokens", "30000", "--min-new-tokens", "30000", "--model", CliRun.TinyT5],
            new CliContext(stdout, stderr, () => Stream.Null, Interactive: false), interrupt.Token);
        var code = await run.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 130, $"exit {code}:\n{stderr}");
        Assert.True(interrupt.IsCancellationRequested);
        Assert.Contains("blip2: error: interrupted", stderr.ToString());
        Assert.Equal("", stdout.ToString());
    }

    /// <summary>stderr that runs <paramref name="then"/> once, when what was written contains <paramref name="text"/>.</summary>
    private sealed class NotifyingWriter(string text, Action then) : StringWriter
    {
        private bool _seen;

        public override void Write(char value)
        {
            base.Write(value);
            Check();
        }

        public override void Write(string? value)
        {
            base.Write(value);
            Check();
        }

        public override void Write(char[] buffer, int index, int count)
        {
            base.Write(buffer, index, count);
            Check();
        }

        private void Check()
        {
            if (_seen || !ToString().Contains(text, StringComparison.Ordinal)) return;
            _seen = true;
            then();
        }
    }

    /// <summary>The lines a terminal shows for this output: \r returns to the line's start, ESC[2K erases the line.</summary>
    private static List<string> Screen(string transcript)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        int column = 0;
        for (int i = 0; i < transcript.Length; i++)
        {
            char c = transcript[i];
            if (c == '\n') { lines.Add(line.ToString()); line.Clear(); column = 0; }
            else if (c == '\r') column = 0;
            else if (c == '\x1b' && transcript.AsSpan(i).StartsWith("\x1b[2K")) { line.Clear(); i += 3; }
            else
            {
                if (column < line.Length) line[column] = c; else line.Append(c);
                column++;
            }
        }
        if (line.Length > 0) lines.Add(line.ToString());
        return lines;
    }
}
