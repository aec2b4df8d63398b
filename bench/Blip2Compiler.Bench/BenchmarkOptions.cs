namespace Blip2Compiler.Bench;

/// <summary>Options shared by all benchmarks: <c>--seconds</c> per case (default 2) and <c>--threads</c> (default all cores).</summary>
public sealed record BenchmarkOptions(double SecondsPerCase, int Threads)
{
    public static BenchmarkOptions Parse(IReadOnlyList<string> args)
    {
        var seconds = 2.0;
        var threads = Environment.ProcessorCount;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Count && double.TryParse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0:
                    seconds = s; i++; break;
                case "--threads" when i + 1 < args.Count && int.TryParse(args[i + 1], out var t) && t > 0:
                    threads = t; i++; break;
                default:
                    throw new ArgumentException($"unknown or invalid option '{args[i]}' (options: --seconds S, --threads N)");
            }
        }
        return new BenchmarkOptions(seconds, threads);
    }
}
