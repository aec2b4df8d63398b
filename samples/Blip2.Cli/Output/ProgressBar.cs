using System.Diagnostics;
using System.Globalization;

namespace Blip2.Cli.Output;

/// <summary>
/// A one-line progress bar on stderr — count, rate, time left — redrawn in place; silent unless stderr is a terminal.
/// Whoever writes a line while it shows (a result on stdout, an error, the summary) clears it first and redraws it
/// after (<see cref="ResultWriter{TRecord}"/>), so no line starts on the bar's remains.
/// </summary>
/// <remarks>
/// Hand-written rather than Spectre.Console's Progress: that one redraws from its own thread and only knows about
/// lines written through its own console, while results here go to stdout (another writer) between redraws.
/// </remarks>
internal sealed class ProgressBar(TextWriter error, int total, bool enabled)
{
    private const int Width = 24;
    // Carriage return, then ANSI "erase the whole line": the terminal's own way to clear it, whatever its width.
    private const string ClearLine = "\r\x1b[2K";
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _done;
    private bool _drawn;

    public void Advance(int count)
    {
        _done += count;
        Redraw();
    }

    public void Redraw()
    {
        if (!enabled) return;
        error.Write(ClearLine + Render(_done, total, _clock.Elapsed));
        error.Flush();
        _drawn = true;
    }

    /// <summary>Clears the bar, so the next line starts clean.</summary>
    public void Clear()
    {
        if (!enabled || !_drawn) return;
        error.Write(ClearLine);
        error.Flush();
        _drawn = false;
    }

    /// <summary><c>[#########---------------] 12/32 images  3.1 images/s  ETA 0:07</c></summary>
    internal static string Render(int done, int total, TimeSpan elapsed)
    {
        int filled = total == 0 ? Width : Math.Clamp(done * Width / total, 0, Width);
        var bar = $"[{new string('#', filled)}{new string('-', Width - filled)}] {done}/{total} images";
        if (done == 0 || elapsed <= TimeSpan.Zero) return bar;
        double rate = done / elapsed.TotalSeconds;
        var left = TimeSpan.FromSeconds(Math.Round((total - done) / rate));
        var eta = left.TotalHours >= 1 ? left.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : left.ToString(@"m\:ss", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{bar}  {rate:0.0} images/s  ETA {eta}");
    }
}
