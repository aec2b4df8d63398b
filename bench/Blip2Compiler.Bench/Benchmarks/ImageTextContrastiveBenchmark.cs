namespace Blip2Compiler.Bench.Benchmarks;

/// <summary>
/// Image–text contrastive similarity (ITC): 32 images and 32 texts of 32 tokens per call (image and text embeddings and
/// their similarities), pairs/s counted as matched (image i, text i) pairs, as the ITM benchmark.
/// </summary>
public sealed class ImageTextContrastiveBenchmark : IBenchmark
{
    public string Name => "itc";
    public string Description => "image-text contrastive pairs/s, batch 32 (retrieval config of --config)";

    public void Run(BenchmarkOptions options, JsonReport report) =>
        BenchRuns.Retrieval(Name, options, report, (model, pixels, text) =>
        {
            var output = model.ImageTextContrastive(pixels, text);
            output.LogitsPerImage.Dispose(); output.LogitsPerText.Dispose(); output.ImageEmbeds.Dispose(); output.TextEmbeds.Dispose();
        });
}
