using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using TorchSharp;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// Runs a model cannot take are typed errors raised before any model work: a prompt plus new tokens beyond OPT's
/// position table (Hugging Face fails there with "index out of range in self"), more beams or rows than
/// <see cref="DecodingLimits"/>, T5 decoders longer than its bound, ids outside the vocabulary, texts longer than the
/// Q-Former's positions, pixel values of the wrong shape.
/// </summary>
public class GenerationLimitTests
{
    // The fixture's OPT has 128 positions (text_config.max_position_embeddings); its prompts use image tokens, so the
    // prompt's positions are its ids.
    private const int OptPositions = 128;

    [Fact]
    public void OptRunsToTheLastPositionAndRefusesOneMore()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var prompt = (int)g["input_ids"].shape[1];
        // Every new token but the last is fed back: prompt + N − 1 positions. min_new_tokens keeps EOS away, so the
        // run really reaches the table's last row (a bound one too generous fails inside libtorch here).
        var fits = OptPositions - prompt + 1;
        var result = model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], new GenerationOptions { MaxNewTokens = fits, MinNewTokens = fits });
        Assert.All(result.NewTokens, tokens => Assert.Equal(fits, tokens.Length));

        var error = Assert.Throws<PromptTooLongException>(() =>
            model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], new GenerationOptions { MaxNewTokens = fits + 1 }));
        Assert.Equal(prompt, error.PromptPositions);
        Assert.Equal(fits + 1, error.MaxNewTokens);
        Assert.Equal(OptPositions, error.ModelPositions);
        Assert.Contains($"at most {fits} new tokens", error.Message);
    }

    [Fact]
    public void TheMaxLengthFormCountsTheSame()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var prompt = (int)g["input_ids"].shape[1];
        // max_length counts the context: prompt + new tokens.
        var error = Assert.Throws<PromptTooLongException>(() =>
            model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], new GenerationOptions { MaxLength = OptPositions + 2 }));
        Assert.Equal(OptPositions + 2 - prompt, error.MaxNewTokens);
        // The default prompt (no ids: image tokens + BOS) is counted too.
        var byDefault = Assert.Throws<PromptTooLongException>(() => model.Generate(g["pixel_values"], options: new GenerationOptions { MaxNewTokens = 1000 }));
        Assert.Equal((int)model.ModelInfo.NumQueryTokens + 1, byDefault.PromptPositions);
    }

    [Fact]
    public void TheLengthIsCheckedBeforeTheImagesAreEncoded()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        // No image tokens at all: once the queries are computed, inserting them fails. The length check comes first.
        var ids = torch.full(g["input_ids"].shape, 5L, dtype: torch.ScalarType.Int64);
        Assert.Throws<PromptTooLongException>(() => model.Generate(g["pixel_values"], ids, options: new GenerationOptions { MaxNewTokens = 500 }));
        Assert.IsNotType<PromptTooLongException>(Record.Exception(() => model.Generate(g["pixel_values"], ids, options: new GenerationOptions { MaxNewTokens = 2 })));
    }

    [Fact]
    public void BeamsAndRowsAreBounded()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var beams = Assert.Throws<DecodingTooLargeException>(() => model.Generate(g["pixel_values"], options: new GenerationOptions { NumBeams = 100_000 }));
        Assert.Equal(DecodingLimits.MaxBeams, beams.Limit);
        Assert.Equal(100_000, beams.Value);
        Assert.Contains("num_beams", beams.Message);

        // 33 images × 128 beams = 4,224 rows: refused at once (the pixels are never looked at past their shape).
        using var pixels = torch.zeros(33, 3, 32, 32);
        var rows = Assert.Throws<DecodingTooLargeException>(() =>
            model.Generate(pixels, options: new GenerationOptions { NumBeams = DecodingLimits.MaxBeams, MaxNewTokens = 2 }));
        Assert.Equal(DecodingLimits.MaxRows, rows.Limit);
        Assert.Equal(33L * DecodingLimits.MaxBeams, rows.Value);
    }

    [Fact]
    public void T5DecodersAreBoundedWithoutAPositionTable()
    {
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        foreach (var maxNew in new[] { DecodingLimits.MaxUnboundedPositions + 1, int.MaxValue })
        {
            var error = Assert.Throws<DecodingTooLargeException>(() =>
                model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], new GenerationOptions { MaxNewTokens = maxNew }));
            Assert.True(error.Value > error.Limit, error.Message);
        }
        // Within the bound a long prompt is fine: the encoder's relative positions have no limit.
        var longPrompt = torch.cat([g["input_ids"], torch.full(g["input_ids"].shape[0], 300, 5L, dtype: torch.ScalarType.Int64)], 1);
        var result = model.Generate(g["pixel_values"], longPrompt, options: new GenerationOptions { MaxNewTokens = 2 });
        Assert.Equal(g["input_ids"].shape[0], result.Sequences.Length);
    }

    [Fact]
    public void AKvCacheLargerThanTheMachinesMemoryIsRefused()
    {
        // 32 prompts × 128 beams × 32,768 decoder positions × 512 bytes (2 layers × K and V × 4 heads × 8 × float32)
        // = 68 GB: within every other bound, more than this machine has. Refused before anything is allocated.
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        // The tiny model's largest run within the other bounds: on a machine with more memory than that there is no
        // case to refuse (and this test checks nothing there).
        if (available >= 68L << 30) return;
        using var pixels = torch.zeros(32, 3, 32, 32);
        var ids = g["input_ids"].slice(0, 0, 1, 1).repeat(32, 1);
        var error = Assert.Throws<DecodingTooLargeException>(() => model.Generate(pixels, ids,
            options: new GenerationOptions { NumBeams = DecodingLimits.MaxBeams, MaxNewTokens = DecodingLimits.MaxUnboundedPositions }));
        Assert.Contains("KV cache", error.Message);
        Assert.Equal(available, error.Limit);
    }

    [Fact]
    public void IdsOutsideTheVocabularyAreTypedErrors()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var vocab = model.ModelInfo.VocabSize;
        var ids = g["input_ids"].clone();
        ids[0, -1] = torch.tensor(vocab);
        var input = Assert.Throws<InvalidModelInputException>(() => model.Generate(g["pixel_values"], ids, g["attention_mask"]));
        Assert.Equal("input_ids", input.Input);
        foreach (var options in new GenerationOptions[] { new() { EosTokenIds = [vocab + 5] }, new() { PadTokenId = vocab } })
            Assert.Throws<InvalidGenerationOptionException>(() => model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options));
        var mask = g["attention_mask"] * 3;
        Assert.Equal("attention_mask", Assert.Throws<InvalidModelInputException>(() => model.Generate(g["pixel_values"], g["input_ids"], mask)).Input);
    }

    [Fact]
    public void PixelValuesOfTheWrongShapeAreTypedErrors()
    {
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        foreach (var shape in new long[][] { [1, 3, 31, 32], [1, 1, 32, 32], [0, 3, 32, 32], [3, 32, 32] })
        {
            using var pixels = torch.zeros(shape);
            Assert.Equal("pixel_values", Assert.Throws<InvalidModelInputException>(() => model.Generate(pixels)).Input);
            Assert.Throws<InvalidModelInputException>(() => model.GetImageFeatures(pixels));
        }
        // Other sizes are what interpolatePosEncoding is for.
        using var larger = torch.zeros(1, 3, 48, 40);
        Assert.Single(model.Generate(larger, options: new GenerationOptions { MaxNewTokens = 1 }, interpolatePosEncoding: true).Sequences);
    }

    [Fact]
    public void QFormerTextsLongerThanItsPositionsAreTypedErrors()
    {
        using var g = new GoldenCase("blip2-itm");
        using var model = GoldenItm.Load(g.ModelDirectory);
        var limit = model.ModelInfo.QFormerMaxPositions;
        using var ids = torch.ones(2, limit + 1, dtype: torch.ScalarType.Int64);
        var error = Assert.Throws<InputTooLongException>(() => model.GetTextEmbeds(ids));
        Assert.Equal(limit + 1, error.Positions);
        Assert.Equal(limit, error.ModelPositions);
        Assert.Throws<InputTooLongException>(() => model.ScoreTexts(g["pixel_values"].slice(0, 0, 1, 1), ids));
        using var atTheLimit = torch.ones(1, limit, dtype: torch.ScalarType.Int64);
        Assert.Equal(new long[] { 1, limit, model.ModelInfo.ImageTextHiddenSize }, model.GetTextEmbeds(atTheLimit).shape);
        using var outside = torch.full(1, 4, 5000L, dtype: torch.ScalarType.Int64);
        Assert.Throws<InvalidModelInputException>(() => model.GetTextEmbeds(outside));
    }
}
