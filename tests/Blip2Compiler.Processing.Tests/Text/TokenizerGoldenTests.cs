using System.Collections.Concurrent;
using System.Text.Json;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Text;

/// <summary>
/// Every text of every case of expected.json, through the checkpoint files the case ships and through the
/// tokenizer.json HF would make of them: ids identical to HF tokenizers / sentencepiece, decoding round-trips.
/// </summary>
[Trait("Category", "Golden")]
public sealed class TokenizerGoldenTests
{
    private static readonly ConcurrentDictionary<string, ITextTokenizer> FromFiles = new();
    private static readonly ConcurrentDictionary<string, ITextTokenizer> FromTokenizerJson = new();

    public static TheoryData<string, int> AllTexts() => TokenizerFixtures.AllTexts();

    [Theory]
    [MemberData(nameof(AllTexts))]
    public void CheckpointFilesGiveReferenceIds(string @case, int text) =>
        AssertMatchesReference(FromFiles.GetOrAdd(@case, c => TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, c))), @case, text);

    [Theory]
    [MemberData(nameof(AllTexts))]
    public void TokenizerJsonGivesReferenceIds(string @case, int text) =>
        AssertMatchesReference(FromTokenizerJson.GetOrAdd(@case, LoadThroughTokenizerJson), @case, text);

    private static ITextTokenizer LoadThroughTokenizerJson(string @case)
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", TokenizerJsonWriter.For(Path.Combine(TokenizerFixtures.Root, @case)));
        return TokenizerLoader.Load(dir.Path);
    }

    private static void AssertMatchesReference(ITextTokenizer tokenizer, string @case, int textIndex)
    {
        var text = TokenizerFixtures.Texts[textIndex];
        var encoding = TokenizerFixtures.Encoding(@case, textIndex);
        // The case's description says whether its ids carry [CLS] ... [SEP]; the others are without special tokens.
        bool withSpecialTokens = TokenizerFixtures.Expected.GetProperty(@case).GetProperty("kind").GetString()!.Contains("[CLS]");

        var ids = TokenizerFixtures.Ids(encoding);
        Assert.Equal(ids, tokenizer.Encode(text, withSpecialTokens));
        if (encoding.TryGetProperty("ids_with_eos", out _))
            Assert.Equal(TokenizerFixtures.Ids(encoding, "ids_with_eos"), tokenizer.Encode(text, addSpecialTokens: true));

        if (encoding.TryGetProperty("decoded", out var decoded))
        {
            var expected = decoded.GetString()!;
            // sentencepiece writes <unk> as " ⁇ "; HF's T5 tokenizer drops it with the other special tokens.
            if (tokenizer.Kind.StartsWith("SentencePiece")) expected = expected.Replace(" \u2047 ", "");
            Assert.Equal(expected, tokenizer.Decode(ids, skipSpecialTokens: true));
        }
    }

    [Fact]
    public void EveryCaseOfTheFixtureIsCovered()
    {
        var cases = TokenizerFixtures.Cases.ToList();
        Assert.Superset(new HashSet<string> { "gpt2", "opt", "bytelevel_bpe", "bert", "wordpiece", "unigram_spm" }, cases.ToHashSet());
        Assert.All(cases, c => Assert.Equal(TokenizerFixtures.Texts.Count, TokenizerFixtures.Expected.GetProperty(c).GetProperty("encodings").GetArrayLength()));
    }

    [Fact]
    public void SentencePieceSpecialIdsFollowTheModel()
    {
        var expected = TokenizerFixtures.Expected.GetProperty("unigram_spm");
        var tokenizer = TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, "unigram_spm"));
        int? Id(string key) => expected.GetProperty(key).GetInt32() is var id && id >= 0 ? id : null;
        Assert.Equal(Id("pad_id"), tokenizer.PadTokenId);
        Assert.Equal(Id("eos_id"), tokenizer.EosTokenId);
        Assert.Equal(Id("unk_id"), tokenizer.UnkTokenId);
        Assert.Equal(Id("bos_id"), tokenizer.BosTokenId);
        Assert.Equal(expected.GetProperty("vocab_size").GetInt32(), tokenizer.VocabSize);
    }
}
