using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// One generation path for OPT and T5 (<see cref="Blip2ConditionalGeneration.Generate(GenerationInputs, GenerationOptions?)"/>):
/// the same entry point gives the reference's sequences for both, and the captioner runs the prelude once per caption.
/// </summary>
[Trait("Category", "Golden")]
public class GenerationPathTests
{
    public static TheoryData<string> Fixtures_ => new() { "blip2-opt", "blip2-flan-t5" };

    private static Blip2ConditionalGeneration Load(string fixture, string directory) =>
        fixture == "blip2-opt" ? GoldenOpt.Load(directory) : GoldenFlanT5.Load(directory);

    [Theory]
    [MemberData(nameof(Fixtures_))]
    public void OneEntryPointGivesTheReferenceSequencesForEitherLanguageModel(string fixture)
    {
        using var g = new GoldenCase(fixture);
        using var model = Load(fixture, g.ModelDirectory);
        var options = GenerationGoldenTests.Options(g.Meta.GetProperty("generate.greedy"));
        var result = model.Generate(new GenerationInputs(g["pixel_values"], g["input_ids"], g["attention_mask"]), options);
        TensorAssert.Equal(g["generate.greedy"], GenerationGoldenTests.ToTensor(result.Sequences), fixture);
    }

    [Theory]
    [MemberData(nameof(Fixtures_))]
    public void ACaptionRunsTheGenerationPreludeOnce(string fixture)
    {
        using var g = new GoldenCase(fixture);
        using var model = Load(fixture, g.ModelDirectory);
        var images = new Blip2ImageProcessor(ImageProcessorConfig.Default with { Height = 32, Width = 32 });
        // Plain captions: the prompt is the image tokens (and BOS), inside either model's 120-token vocabulary.
        var tokenizer = TokenizerLoader.Load(Fixtures.Golden("tokenizers/unigram_spm"));
        var captioner = new Blip2Captioner(model, images, tokenizer);
        var photo = Path.Combine(Fixtures.Root, "golden", "image-processor", "small.png");

        captioner.Caption([photo, photo], null, new GenerationOptions { MaxNewTokens = 2 });
        Assert.Equal(1, model.PreludeRuns);
        captioner.Generate(photo, null, new GenerationOptions { MaxNewTokens = 2 });
        Assert.Equal(2, model.PreludeRuns);
        model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], new GenerationOptions { MaxNewTokens = 2 });
        Assert.Equal(3, model.PreludeRuns);
    }

    [Fact]
    public void T5WithoutPromptIdsIsATypedErrorAsTheReferenceRaises()
    {
        // Hugging Face builds the default prompt from text_config.bos_token_id, which T5 has not: generate raises.
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        var error = Assert.Throws<InvalidModelInputException>(() => model.Generate(new GenerationInputs(g["pixel_values"])));
        Assert.Equal("input_ids", error.Input);
        Assert.Equal(0, model.PreludeRuns);
    }

    [Fact]
    public void ThePromptsImageTokensMustMatchTheQueriesAsATypedError()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var ids = g["input_ids"].clone();
        ids[0, 11] = TorchSharp.torch.tensor(117L);   // one image token too many in the first row
        var error = Assert.Throws<InvalidModelInputException>(() => model.Generate(g["pixel_values"], ids, g["attention_mask"], new GenerationOptions { MaxNewTokens = 1 }));
        Assert.Contains("image tokens", error.Message);
    }
}
