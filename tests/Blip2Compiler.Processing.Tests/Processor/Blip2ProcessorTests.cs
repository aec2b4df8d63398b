using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Processor;

public class Blip2ProcessorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("blip2-processor").FullName;

    // The compiled model's prompt layout: 4 query tokens in image tokens 50265.
    private static readonly Models.ModelInfo Model = new() { Architecture = "Blip2ForConditionalGeneration", NumQueryTokens = 4, ImageTokenIndex = 50265 };

    public Blip2ProcessorTests()
    {
        // An OPT-style checkpoint folder: OPT's vocabulary and merges, `<image>` as an added token, BOS </s>.
        var opt = Path.Combine(Fixtures.Root, "golden", "tokenizers", "opt");
        File.Copy(Path.Combine(opt, "vocab.json"), Path.Combine(_dir, "vocab.json"));
        File.Copy(Path.Combine(opt, "merges.txt"), Path.Combine(_dir, "merges.txt"));
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), """
            { "tokenizer_class": "GPT2Tokenizer", "add_bos_token": true, "bos_token": "</s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "</s>",
              "added_tokens_decoder": { "50265": { "content": "<image>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false } } }
            """);
        File.WriteAllText(Path.Combine(_dir, "config.json"), """{ "num_query_tokens": 4, "image_token_index": 50265, "vision_config": { "image_size": 32 } }""");
        File.WriteAllText(Path.Combine(_dir, "preprocessor_config.json"), """{ "size": { "height": 32, "width": 32 }, "resample": 3, "do_rescale": true, "do_normalize": true }""");
    }

    [Fact]
    public void PromptsGetImageTokensThenBosAndAreLeftPadded()
    {
        var processor = Blip2Processor.Load(_dir, Model);
        var image = Path.Combine(Fixtures.Root, "golden", "image-processor", "small.png");
        var inputs = processor.Process(new ImageSource[] { image, image }, new[] { "a photo of", "Question: what is it? Answer:" });

        Assert.Equal(new long[] { 2, 3, 32, 32 }, inputs.PixelValues.shape);
        var ids = inputs.InputIds;
        var mask = inputs.AttentionMask;
        Assert.Equal(ids.shape, mask.shape);
        var shortRow = ids[0].data<long>().ToArray();
        var pad = processor.Tokenizer.PadTokenId!.Value;
        var padding = shortRow.TakeWhile(t => t == pad).Count();
        Assert.True(padding > 0, "the shorter prompt is padded on the left");
        Assert.Equal(Enumerable.Repeat(50265L, 4), shortRow.Skip(padding).Take(4));
        Assert.Equal(2L, shortRow[padding + 4]);                    // OPT's BOS </s>
        Assert.Equal(new[] { 0L }, mask[0].data<long>().Take(padding).Distinct());
        Assert.Equal("a photo of", processor.Decode(new[] { shortRow.Skip(padding) })[0]);
    }

    [Fact]
    public void OnePromptPerImage()
    {
        var processor = Blip2Processor.Load(_dir, Model);
        var image = Path.Combine(Fixtures.Root, "golden", "image-processor", "small.png");
        var error = Assert.Throws<Blip2Exception>(() => processor.Process(new ImageSource[] { image }, new[] { "a", "b" }));
        Assert.Contains("1 images but 2 prompts", error.Message);
    }

    [Fact]
    public void TheLayoutIsTheCompiledModelsNotTheFolders()
    {
        // config.json says 4 queries; a model compiled with 3 gets prompts of 3 image tokens (its query embeddings).
        var processor = Blip2Processor.Load(_dir, Model with { NumQueryTokens = 3 });
        var ids = processor.BuildPrompts(1).InputIds;
        var row = Enumerable.Range(0, ids.GetLength(1)).Select(i => ids[0, i]).ToArray();
        Assert.Equal(new long[] { 50265, 50265, 50265, 2 }, row);   // image tokens, then BOS
    }

    [Fact]
    public void AModelWithoutQueriesHasNoPromptLayout()
    {
        var error = Assert.Throws<Blip2Exception>(() => Blip2Processor.Load(_dir, Model with { NumQueryTokens = 0 }));
        Assert.Contains("has no query tokens", error.Message);
    }

    public void Dispose() => Directory.Delete(_dir, true);
}
