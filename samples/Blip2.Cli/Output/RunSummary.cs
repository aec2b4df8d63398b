using System.Diagnostics;
using System.Globalization;

namespace Blip2.Cli.Output;

/// <summary>
/// What a run did and how fast: the summary line every command ends with on stderr, and the <c>summary</c> of --json.
/// <paramref name="Images"/> counts images processed, <paramref name="Failed"/> those that failed (not in Images).
/// </summary>
internal sealed record RunSummary(int Images, int Failed, double Seconds, int? Texts = null)
{
    public double ImagesPerSecond => Seconds > 0 ? Math.Round(Images / Seconds, 3) : 0;

    public static RunSummary Since(Stopwatch clock, int images, int failed = 0, int? texts = null) =>
        new(images, failed, Math.Round(clock.Elapsed.TotalSeconds, 3), texts);

    public override string ToString()
    {
        var what = Count(Images, "image") + (Texts is { } t ? ", " + Count(t, "text") : "");
        var line = string.Create(CultureInfo.InvariantCulture, $"blip2: {what} in {Seconds:0.00} s");
        if (Images > 0) line += string.Create(CultureInfo.InvariantCulture, $" ({Images / Math.Max(Seconds, 1e-9):0.00} images/s)");
        return Failed > 0 ? $"{line}; {Count(Failed, "input")} failed" : line;
    }

    private static string Count(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";
}
