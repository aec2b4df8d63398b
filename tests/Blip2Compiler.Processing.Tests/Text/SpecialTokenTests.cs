using System.Text.Json.Nodes;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Text;

/// <summary>Special and added tokens as a checkpoint's tokenizer_config.json declares them.</summary>
public sealed class SpecialTokenTests
{
    [Trait("Category", "Golden")]
    [Fact]
    public void OptPrependsEndOfSentenceAsBos()
    {
        using var dir = TokenizerFixtures.OptCheckpoint();
        var tokenizer = TokenizerLoader.Load(dir.Path);
        var bos = tokenizer.TokenToId("</s>");

        Assert.Equal(bos, tokenizer.BosTokenId);
        Assert.Equal(tokenizer.TokenToId("<pad>"), tokenizer.PadTokenId);
        for (int i = 0; i < TokenizerFixtures.Texts.Count; i++)
        {
            var withoutBos = TokenizerFixtures.Ids(TokenizerFixtures.Encoding("opt", i));
            Assert.Equal([bos!.Value, .. withoutBos], tokenizer.Encode(TokenizerFixtures.Texts[i]));
            Assert.Equal(withoutBos, tokenizer.Encode(TokenizerFixtures.Texts[i], addSpecialTokens: false));
        }
    }

    [Fact]
    public void AddedTokensAreMatchedWholeBeforeBpe()
    {
        using var dir = TokenizerFixtures.OptCheckpoint(imageTokenId: 50265);
        var tokenizer = TokenizerLoader.Load(dir.Path);

        Assert.Equal(50265, tokenizer.TokenToId("<image>"));
        Assert.Equal(50266, tokenizer.VocabSize);
        Assert.Equal(
            [50265, 50265, .. tokenizer.Encode("a photo of", addSpecialTokens: false)],
            tokenizer.Encode("<image><image>a photo of", addSpecialTokens: false));
        // Around text too: the pieces between added tokens are encoded on their own.
        Assert.Equal(
            [.. tokenizer.Encode("two", false), 50265, .. tokenizer.Encode(" cats", false)],
            tokenizer.Encode("two<image> cats", addSpecialTokens: false));
        // Without the added token "<image>" would be BPE pieces.
        var plain = TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, "opt"));
        Assert.True(plain.Encode("<image>", addSpecialTokens: false).Count > 1);
    }

    [Fact]
    public void SpecialTokensAreSkippedWhenDecodingUnlessAsked()
    {
        using var dir = TokenizerFixtures.OptCheckpoint();
        var tokenizer = TokenizerLoader.Load(dir.Path);
        var ids = new List<int> { tokenizer.PadTokenId!.Value, 50265, 50265 };
        ids.AddRange(tokenizer.Encode("a photo of a dog"));
        ids.Add(tokenizer.EosTokenId!.Value);

        Assert.Equal("a photo of a dog", tokenizer.Decode(ids));
        Assert.Equal("<pad><image><image></s>a photo of a dog</s>", tokenizer.Decode(ids, skipSpecialTokens: false));
        // Ids past the tokenizer (a model's padded embedding rows) are dropped, as HF tokenizers do.
        Assert.Equal("a photo of a dog", tokenizer.Decode([.. ids, 50270]));
    }

    [Fact]
    public void LStripAndRStripSwallowSurroundingSpaces()
    {
        using var dir = TokenizerFixtures.CopyOf("opt");
        dir.Write("tokenizer_config.json", new JsonObject
        {
            ["added_tokens_decoder"] = new JsonObject
            {
                ["50265"] = new JsonObject { ["content"] = "<mark>", ["lstrip"] = true, ["rstrip"] = true, ["special"] = false },
            },
        }.ToJsonString());
        var tokenizer = TokenizerLoader.Load(dir.Path);

        Assert.Equal(tokenizer.Encode("a<mark>b", false), tokenizer.Encode("a  <mark>  b", false));
        Assert.Contains(50265, tokenizer.Encode("a <mark> b", false));
    }

    [Fact]
    public void CleanUpTokenizationSpacesFollowsTheConfig()
    {
        using var dir = TokenizerFixtures.CopyOf("bert");
        var raw = TokenizerLoader.Load(dir.Path);
        var ids = raw.Encode("A man's bike isn't red.");
        Assert.Equal("a man ' s bike isn ' t red.", raw.Decode(ids));

        dir.Write("tokenizer_config.json", """{"clean_up_tokenization_spaces": true, "do_lower_case": true}""");
        var cleaned = TokenizerLoader.Load(dir.Path);
        Assert.Equal("a man's bike isn't red.", cleaned.Decode(ids));
    }

    [Fact]
    public void WordPieceAddsClsAndSepAndKeepsThemWhole()
    {
        var tokenizer = TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, "bert"));
        int cls = tokenizer.TokenToId("[CLS]")!.Value, sep = tokenizer.TokenToId("[SEP]")!.Value;

        Assert.Null(tokenizer.BosTokenId);
        Assert.Equal(tokenizer.TokenToId("[PAD]"), tokenizer.PadTokenId);
        Assert.Equal(2, tokenizer.NumSpecialTokensToAdd);
        Assert.Equal([cls, .. tokenizer.Encode("two cats", false), sep], tokenizer.Encode("two cats"));
        Assert.Equal([cls, .. tokenizer.Encode("two", false), sep], tokenizer.Encode("[CLS]two[SEP]", false));
    }

    [Fact]
    public void UncasedConfigCanTurnLowerCasingOff()
    {
        using var dir = TokenizerFixtures.CopyOf("bert");
        dir.Write("tokenizer_config.json", """{"do_lower_case": false}""");
        var cased = TokenizerLoader.Load(dir.Path);
        var uncased = TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, "bert"));

        Assert.NotEqual(uncased.Encode("Cats"), cased.Encode("Cats"));
        Assert.Equal(uncased.Encode("cats"), cased.Encode("cats"));
    }
}
