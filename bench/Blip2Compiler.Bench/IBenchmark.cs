namespace Blip2Compiler.Bench;

/// <summary>One benchmark, found by reflection: add a class under Benchmarks/ and it is runnable by name.</summary>
public interface IBenchmark
{
    /// <summary>The command-line name, e.g. "preprocess".</summary>
    string Name { get; }

    string Description { get; }

    /// <summary>Runs every case, writing one report line per result.</summary>
    void Run(BenchmarkOptions options, JsonReport report);
}
