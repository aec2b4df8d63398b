namespace Blip2.Cli.Output;

/// <summary>A one-line progress bar on stderr, redrawn in place; silent unless stderr is a terminal.</summary>
internal sealed class ProgressBar(TextWriter error, int total, bool enabled)
{
    private const int Width = 30;
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
        int filled = total == 0 ? Width : _done * Width / total;
        error.Write($"\r[{new string('#', filled)}{new string('-', Width - filled)}] {_done}/{total} images");
        error.Flush();
        _drawn = true;
    }

    /// <summary>Clears the bar, so the next line (a result, an error, the summary) starts clean.</summary>
    public void Clear()
    {
        if (!enabled || !_drawn) return;
        error.Write("\r" + new string(' ', Width + 24) + "\r");
        error.Flush();
        _drawn = false;
    }
}
