using System.Diagnostics;
using System.Globalization;

namespace Blip2.Cli.Output;

/// <summary>How many images a run processed and how fast (the summary line on stderr, and in --json).</summary>
internal sealed record RunSummary(int Images, double Seconds)
{
    public double ImagesPerSecond => Seconds > 0 ? Images / Seconds : 0;

    public static RunSummary Since(Stopwatch clock, int images) => new(images, Math.Round(clock.Elapsed.TotalSeconds, 3));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"blip2: {Images} image{(Images == 1 ? "" : "s")} in {Seconds:0.00} s ({ImagesPerSecond:0.00} images/s)");
}
