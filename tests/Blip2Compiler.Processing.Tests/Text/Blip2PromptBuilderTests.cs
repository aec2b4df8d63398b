using Blip2Compiler.Processing;
using TorchSharp;

namespace Blip2Compiler.Tests.Text;

public sealed class Blip2PromptBuilderTests
{
    private const int ImageTokenId = 50265;
    private const int NumQueryTokens = 6;

    private static long[] Row(long[,] batch, int b) => [.. Enumerable.Range(0, batch.GetLength(1)).Select(t => batch[b, t])];

    [Fact]
    public void OptRowsAreImageTokensThenBosThenTextLeftPadded()
    {
        using var dir = TokenizerFixtures.OptCheckpoint(ImageTokenId);
        var tokenizer = TokenizerLoader.Load(dir.Path);
        var builder = new Blip2PromptBuilder(tokenizer, NumQueryTokens, ImageTokenId);

        var batch = builder.Build(["Question: how many cats are there? Answer:", "a photo of"]);

        var images = Enumerable.Repeat((long)ImageTokenId, NumQueryTokens);
        long[] first = [.. images, tokenizer.BosTokenId!.Value, .. tokenizer.Encode("Question: how many cats are there? Answer:", false).Select(i => (long)i)];
        long[] second = [.. images, tokenizer.BosTokenId!.Value, .. tokenizer.Encode("a photo of", false).Select(i => (long)i)];
        int padding = first.Length - second.Length;
        Assert.Equal(2, batch.BatchSize);
        Assert.Equal(first.Length, batch.SequenceLength);
        Assert.Equal(first, Row(batch.InputIds, 0));
        Assert.Equal([.. Enumerable.Repeat((long)tokenizer.PadTokenId!.Value, padding), .. second], Row(batch.InputIds, 1));
        Assert.Equal(Enumerable.Repeat(1L, first.Length), Row(batch.AttentionMask, 0));
        Assert.Equal([.. Enumerable.Repeat(0L, padding), .. Enumerable.Repeat(1L, second.Length)], Row(batch.AttentionMask, 1));
    }

    [Fact]
    public void RightPaddingPutsPadsAfterTheText()
    {
        using var dir = TokenizerFixtures.OptCheckpoint(ImageTokenId);
        var tokenizer = TokenizerLoader.Load(dir.Path);
        var builder = new Blip2PromptBuilder(tokenizer, NumQueryTokens, ImageTokenId) { PaddingSide = PaddingSide.Right };

        var batch = builder.Build(["two cats laying on a couch", "a dog"]);

        var shortRow = builder.BuildIds("a dog");
        Assert.Equal([.. shortRow.Select(i => (long)i), .. Enumerable.Repeat((long)tokenizer.PadTokenId!.Value, batch.SequenceLength - shortRow.Count)], Row(batch.InputIds, 1));
        Assert.Equal([.. Enumerable.Repeat(1L, shortRow.Count), .. Enumerable.Repeat(0L, batch.SequenceLength - shortRow.Count)], Row(batch.AttentionMask, 1));
    }

    [Fact]
    public void NullOrEmptyPromptIsImageTokensAndBos()
    {
        using var dir = TokenizerFixtures.OptCheckpoint(ImageTokenId);
        var tokenizer = TokenizerLoader.Load(dir.Path);
        var builder = new Blip2PromptBuilder(tokenizer, NumQueryTokens, ImageTokenId);

        int[] expected = [.. Enumerable.Repeat(ImageTokenId, NumQueryTokens), tokenizer.BosTokenId!.Value];
        Assert.Equal(expected, builder.BuildIds(null));
        Assert.Equal(expected, builder.BuildIds(""));
        var batch = builder.Build([null, ""]);
        Assert.Equal(Row(batch.InputIds, 0), Row(batch.InputIds, 1));
    }

    [Fact]
    public void LegacyCheckpointsGetTheTokenizerEncodingAlone()
    {
        using var dir = TokenizerFixtures.OptCheckpoint(ImageTokenId);
        var tokenizer = TokenizerLoader.Load(dir.Path);
        var builder = new Blip2PromptBuilder(tokenizer, NumQueryTokens, imageTokenId: null);

        Assert.Equal(tokenizer.Encode("a photo of"), builder.BuildIds("a photo of"));
        Assert.Equal([tokenizer.BosTokenId!.Value], builder.BuildIds(null));
    }

    [Fact]
    public void T5RowsEndWithEosAndPadWithZero()
    {
        var tokenizer = TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, "unigram_spm"));
        var builder = new Blip2PromptBuilder(tokenizer, NumQueryTokens, imageTokenId: 700);

        var ids = builder.BuildIds("a photo of a dog");
        Assert.Equal([.. Enumerable.Repeat(700, NumQueryTokens), .. tokenizer.Encode("a photo of a dog", false), tokenizer.EosTokenId!.Value], ids);
        var batch = builder.Build(["a photo of a dog", null]);
        Assert.Equal(tokenizer.PadTokenId, (int)batch.InputIds[1, 0]);
        Assert.Equal(0, batch.AttentionMask[1, 0]);
    }

    [Fact]
    public void TruncatesTheTextOnlyWhenAskedAndKeepsSpecialTokens()
    {
        using var dir = TokenizerFixtures.OptCheckpoint(ImageTokenId);
        var tokenizer = TokenizerLoader.Load(dir.Path);
        var builder = new Blip2PromptBuilder(tokenizer, NumQueryTokens, ImageTokenId);
        const string prompt = "Question: how many cats are there? Answer:";
        var text = tokenizer.Encode(prompt, false);

        Assert.Equal(NumQueryTokens + 1 + text.Count, builder.BuildIds(prompt).Count);
        var cut = builder.BuildIds(prompt, maxLength: NumQueryTokens + 4);
        Assert.Equal([.. Enumerable.Repeat(ImageTokenId, NumQueryTokens), tokenizer.BosTokenId!.Value, .. text.Take(3)], cut);
        Assert.Equal(NumQueryTokens + 4, builder.Build([prompt, "a"], maxLength: NumQueryTokens + 4).SequenceLength);
        Assert.Throws<Blip2Exception>(() => builder.BuildIds(prompt, maxLength: NumQueryTokens));
    }

    [Fact]
    public void PaddingWithoutAPadTokenIsAnError()
    {
        // GPT-2's vocabulary alone has no pad token.
        var tokenizer = TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, "gpt2"));
        var builder = new Blip2PromptBuilder(tokenizer, NumQueryTokens, imageTokenId: null);

        Assert.Null(tokenizer.PadTokenId);
        var error = Assert.Throws<Blip2Exception>(() => builder.Build(["a", "two cats laying on a couch"]));
        Assert.Contains("pad token", error.Message);
        Assert.Equal(1, builder.Build(["a", "b"]).SequenceLength); // equal lengths need no padding
    }

    [Fact]
    public void BadArgumentsAreBlip2Exceptions()
    {
        var tokenizer = TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, "unigram_spm"));
        Assert.Throws<Blip2Exception>(() => new Blip2PromptBuilder(tokenizer, -1, 5));
        Assert.Throws<Blip2Exception>(() => new Blip2PromptBuilder(tokenizer, 6, -5));
        Assert.Throws<Blip2Exception>(() => new Blip2PromptBuilder(tokenizer, 6, 5).Build([]));
    }

    [Fact]
    public void DecodeBatchDropsImagePadAndBosTokens()
    {
        using var dir = TokenizerFixtures.OptCheckpoint(ImageTokenId);
        var tokenizer = TokenizerLoader.Load(dir.Path);
        var builder = new Blip2PromptBuilder(tokenizer, NumQueryTokens, ImageTokenId);
        string[] prompts = ["Question: how many cats are there? Answer:", "a photo of"];
        var batch = builder.Build(prompts);

        Assert.Equal(prompts, builder.DecodeBatch(batch.InputIds));
        Assert.Equal(prompts, builder.DecodeBatch(Enumerable.Range(0, 2).Select(b => Row(batch.InputIds, b).AsEnumerable())));
        var (ids, mask) = batch.ToTensors();
        using (ids)
        using (mask)
        {
            Assert.Equal(prompts, builder.DecodeBatch(ids));
            Assert.Equal([prompts[1]], builder.DecodeBatch(ids[1]));
        }
        Assert.StartsWith("<pad><pad>", builder.DecodeBatch(batch.InputIds, skipSpecialTokens: false)[1]);
    }

    [Fact]
    public void ToTensorsGivesInt64TensorsOfTheBatch()
    {
        using var dir = TokenizerFixtures.OptCheckpoint(ImageTokenId);
        var builder = new Blip2PromptBuilder(TokenizerLoader.Load(dir.Path), NumQueryTokens, ImageTokenId);
        var batch = builder.Build(["two cats", "a"]);

        var (ids, mask) = batch.ToTensors();
        using (ids)
        using (mask)
        {
            Assert.Equal(torch.ScalarType.Int64, ids.dtype);
            Assert.Equal(torch.ScalarType.Int64, mask.dtype);
            Assert.Equal([2L, batch.SequenceLength], ids.shape);
            Assert.Equal(batch.InputIds.Cast<long>(), ids.data<long>().ToArray());
            Assert.Equal(batch.AttentionMask.Cast<long>(), mask.data<long>().ToArray());
        }
    }
}
