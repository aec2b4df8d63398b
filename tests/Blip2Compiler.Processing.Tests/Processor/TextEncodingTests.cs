using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Processor;

/// <summary>
/// <see cref="Blip2Processor.ProcessText"/> against Hugging Face's rules as its source defines them: the tokenizer
/// (tokenization_utils_base.py) truncates and pads each text's encoding, special tokens included, then
/// processing_blip_2.py puts num_query_tokens image tokens in front of every row. Expected rows are assembled here
/// from those rules and the tokenizer's ids (the tokenizer is golden-tested on its own).
/// </summary>
public class TextEncodingTests : IDisposable
{
    private const long Image = 50265, Bos = 2, Pad = 1;
    private readonly string _dir = Directory.CreateTempSubdirectory("blip2-text").FullName;

    public TextEncodingTests()
    {
        var opt = Path.Combine(Fixtures.Root, "golden", "tokenizers", "opt");
        File.Copy(Path.Combine(opt, "vocab.json"), Path.Combine(_dir, "vocab.json"));
        File.Copy(Path.Combine(opt, "merges.txt"), Path.Combine(_dir, "merges.txt"));
        TokenizerConfig("");
        File.WriteAllText(Path.Combine(_dir, "config.json"), """{ "num_query_tokens": 4, "image_token_index": 50265 }""");
        File.WriteAllText(Path.Combine(_dir, "preprocessor_config.json"), """{ "size": { "height": 32, "width": 32 } }""");
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private void TokenizerConfig(string extra, string pad = "\"<pad>\"") => File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), $$"""
        { "tokenizer_class": "GPT2Tokenizer", "add_bos_token": true, "bos_token": "</s>", "eos_token": "</s>", "pad_token": {{pad}}, "unk_token": "</s>",
          "added_tokens_decoder": { "50265": { "content": "<image>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false } } {{extra}} }
        """);

    private const string Short = "a cat", Long = "two dogs playing in the snow";

    // The prompt layout is the compiled model's (ModelInfo); here it comes from the config.json each test writes.
    private Blip2Processor Processor() => Blip2Processor.Load(_dir, Layout());

    private Blip2Compiler.Models.ModelInfo Layout()
    {
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")));
        var root = config.RootElement;
        return new Blip2Compiler.Models.ModelInfo
        {
            NumQueryTokens = root.GetProperty("num_query_tokens").GetInt64(),
            ImageTokenIndex = root.TryGetProperty("image_token_index", out var image) ? image.GetInt64() : null,
        };
    }

    private long[] Text(string text) => [.. Processor().Tokenizer.Encode(text, addSpecialTokens: false).Select(i => (long)i)];

    private static long[] Images => [.. Enumerable.Repeat(Image, 4)];

    private static long[] Pads(int n) => [.. Enumerable.Repeat(Pad, n)];

    private static long[][] Rows(long[,] ids) =>
        [.. Enumerable.Range(0, ids.GetLength(0)).Select(b => Enumerable.Range(0, ids.GetLength(1)).Select(t => ids[b, t]).ToArray())];

    /// <summary>The mask is 1 exactly where the ids are not padding (no pad token appears in these texts).</summary>
    private static void MaskMarksThePads(PromptBatch batch)
    {
        var (ids, mask) = (Rows(batch.InputIds), Rows(batch.AttentionMask));
        for (var b = 0; b < ids.Length; b++)
            Assert.Equal(ids[b].Select(id => id == Pad ? 0L : 1L), mask[b]);
    }

    [Fact]
    public void LongestPadsTheTextRowsOnTheTokenizersSideAfterTheImageTokens()
    {
        var (s, l) = (Text(Short), Text(Long));
        Assert.True(l.Length > s.Length + 1);
        var batch = Processor().ProcessText([Short, Long]);
        long[] shortRow = [.. Images, Bos, .. s, .. Pads(l.Length - s.Length)];   // HF's default padding side: right
        Assert.Equal([shortRow, [.. Images, Bos, .. l]], Rows(batch.InputIds));
        MaskMarksThePads(batch);
    }

    [Fact]
    public void LeftPaddingGoesBetweenTheImageTokensAndTheText()
    {
        TokenizerConfig(""", "padding_side": "left" """);
        var (s, l) = (Text(Short), Text(Long));
        var batch = Processor().ProcessText([Short, Long]);
        Assert.Equal([.. Images, .. Pads(l.Length - s.Length), Bos, .. s], Rows(batch.InputIds)[0]);
        MaskMarksThePads(batch);
        // The options' side wins over the tokenizer's.
        var right = Processor().ProcessText([Short, Long], new() { PaddingSide = PaddingSide.Right });
        Assert.Equal([.. Images, Bos, .. s, .. Pads(l.Length - s.Length)], Rows(right.InputIds)[0]);
    }

    [Fact]
    public void MaxLengthPaddingCountsTheTextWithItsSpecialTokensButNotTheImageTokens()
    {
        var (s, l) = (Text(Short), Text(Long));
        var batch = Processor().ProcessText([Short, Long], new() { Padding = TextPadding.MaxLength, MaxLength = 10 });
        Assert.Equal(4 + 10, batch.SequenceLength);
        Assert.Equal([.. Images, Bos, .. s, .. Pads(10 - 1 - s.Length)], Rows(batch.InputIds)[0]);
        Assert.Equal([.. Images, Bos, .. l, .. Pads(10 - 1 - l.Length)], Rows(batch.InputIds)[1]);
        MaskMarksThePads(batch);
    }

    [Fact]
    public void MaxLengthPaddingDoesNotCutALongerRowWithoutTruncation()
    {
        var l = Text(Long);
        var batch = Processor().ProcessText([Long], new() { Padding = TextPadding.MaxLength, MaxLength = 3 });
        Assert.Equal([.. Images, Bos, .. l], Rows(batch.InputIds)[0]);
        // With a shorter row beside it the rows stay unequal: no batch, as Hugging Face cannot make the tensor.
        var e = Assert.Throws<TextEncodingException>(() => Processor().ProcessText([Short, Long], new() { Padding = TextPadding.MaxLength, MaxLength = 4 }));
        Assert.Contains("use truncation", e.Message);
    }

    [Fact]
    public void TruncationCutsTheTextToMaxLengthWithItsSpecialTokens()
    {
        var (s, l) = (Text(Short), Text(Long));
        var batch = Processor().ProcessText([Short, Long], new() { Truncation = true, MaxLength = 3 });
        Assert.Equal([[.. Images, Bos, .. s[..2]], [.. Images, Bos, .. l[..2]]], Rows(batch.InputIds));

        TokenizerConfig(""", "truncation_side": "left" """);
        var left = Processor().ProcessText([Long], new() { Truncation = true, MaxLength = 3 });
        Assert.Equal([.. Images, Bos, .. l[^2..]], Rows(left.InputIds)[0]);
    }

    [Fact]
    public void TruncationAndMaxLengthPaddingTogetherGiveRowsOfExactlyMaxLength()
    {
        var (s, l) = (Text(Short), Text(Long));
        var batch = Processor().ProcessText([Short, Long], new() { Padding = TextPadding.MaxLength, Truncation = true, MaxLength = s.Length + 2 });
        Assert.Equal([[.. Images, Bos, .. s, Pad], [.. Images, Bos, .. l[..(s.Length + 1)]]], Rows(batch.InputIds));
    }

    [Fact]
    public void WithoutMaxLengthTheTokenizersModelMaxLengthIsUsed()
    {
        TokenizerConfig(""", "model_max_length": 8 """);
        var s = Text(Short);
        var padded = Processor().ProcessText([Short], new() { Padding = TextPadding.MaxLength });
        Assert.Equal([.. Images, Bos, .. s, .. Pads(8 - 1 - s.Length)], Rows(padded.InputIds)[0]);
        Assert.True(Text(Long + " " + Long).Length > 8);
        var cut = Processor().ProcessText([Long + " " + Long], new() { Truncation = true });
        Assert.Equal(4 + 8, cut.SequenceLength);

        // Hugging Face's "very large" placeholder is no length: max_length padding then does not pad.
        TokenizerConfig(""", "model_max_length": 1000000000000000019884624838656 """);
        Assert.Equal(4 + 1 + s.Length, Processor().ProcessText([Short], new() { Padding = TextPadding.MaxLength }).SequenceLength);
    }

    [Fact]
    public void DoNotPadKeepsEqualRowsAndRefusesUnequalOnes()
    {
        var s = Text(Short);
        var same = Processor().ProcessText([Short, Short], new() { Padding = TextPadding.DoNotPad });
        Assert.Equal([.. Images, Bos, .. s], Rows(same.InputIds)[1]);
        var e = Assert.Throws<TextEncodingException>(() => Processor().ProcessText([Short, Long], new() { Padding = TextPadding.DoNotPad }));
        Assert.Equal("padding", e.Option);
    }

    [Fact]
    public void PaddingWithoutAPadTokenIsRefusedAsHuggingFaceDoes()
    {
        TokenizerConfig("", pad: "null");
        var e = Assert.Throws<TextEncodingException>(() => Processor().ProcessText([Short]));
        Assert.Equal("padding", e.Option);
        Assert.Equal(1, Processor().ProcessText([Short], new() { Padding = TextPadding.DoNotPad }).BatchSize);
    }

    [Fact]
    public void AMaxLengthShorterThanTheSpecialTokensIsATypedError()
    {
        Assert.Equal("max_length", Assert.Throws<TextEncodingException>(() => Processor().ProcessText([Short], new() { Truncation = true, MaxLength = 0 })).Option);
    }

    [Fact]
    public void ALegacyLayoutGetsNoImageTokens()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), """{ "num_query_tokens": 4 }""");
        var batch = Processor().ProcessText([Short]);
        Assert.Equal([Bos, .. Text(Short)], Rows(batch.InputIds)[0]);
    }

    [Fact]
    public void ImagesAndTextsTogetherTakeTheSameTextRules()
    {
        var image = Path.Combine(Fixtures.Root, "golden", "image-processor", "small.png");
        var inputs = Processor().Process([image, image], [Short, Long], new TextEncodingOptions { Padding = TextPadding.MaxLength, MaxLength = 12 });
        Assert.Equal(new long[] { 2, 3, 32, 32 }, inputs.PixelValues.shape);
        Assert.Equal(new long[] { 2, 16 }, inputs.InputIds.shape);
        Assert.Equal("text", Assert.Throws<TextEncodingException>(() => Processor().Process([image], [Short, Long], new TextEncodingOptions())).Option);
    }
}
