namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>Image–text matching (ITM head): 32 (image, 32-token text) pairs per call, pairs/s.</summary>
public sealed class ImageTextMatchingBenchmark : IBenchmark
{
    public string Name => "itm";
    public string Description => "image-text matching pairs/s, batch 32 (retrieval config of --config)";

    public void Run(BenchmarkOptions options, JsonReport report) =>
        BenchRuns.Retrieval(Name, options, report, (model, pixels, text) => model.ImageTextMatching(pixels, text).Dispose());
}
