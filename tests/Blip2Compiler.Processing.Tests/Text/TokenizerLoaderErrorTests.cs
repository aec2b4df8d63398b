using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Text;

/// <summary>Every bad tokenizer file gives a <see cref="TokenizerFileException"/> naming the file and the problem.</summary>
public sealed class TokenizerLoaderErrorTests
{
    private static TokenizerFileException LoadFails(ScratchDir dir, string fileAtFault, string problem)
    {
        var error = Assert.Throws<TokenizerFileException>(() => TokenizerLoader.Load(dir.Path));
        Assert.IsAssignableFrom<Blip2Exception>(error);
        Assert.Equal(fileAtFault, Path.GetFileName(error.FilePath));
        Assert.Contains(fileAtFault, error.Message);
        Assert.Contains(problem, error.Message);
        return error;
    }

    [Fact]
    public void MissingFolder()
    {
        var missing = Path.Combine(Path.GetTempPath(), "blip2-no-such-checkpoint-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<TokenizerFileException>(() => TokenizerLoader.Load(missing));
        Assert.Equal(missing, error.FilePath);
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public void FolderWithoutTokenizerFiles()
    {
        using var dir = new ScratchDir();
        dir.Write("config.json", "{}");
        var error = Assert.Throws<TokenizerFileException>(() => TokenizerLoader.Load(dir.Path));
        Assert.Equal(dir.Path, error.FilePath);
        Assert.Contains("no tokenizer files", error.Message);
    }

    [Fact]
    public void VocabJsonWithoutMerges()
    {
        using var dir = new ScratchDir();
        dir.Write("vocab.json", """{"a": 0}""");
        LoadFails(dir, "merges.txt", "missing");
    }

    [Fact]
    public void VocabJsonNotJson()
    {
        using var dir = new ScratchDir();
        dir.Write("vocab.json", "{\"a\": 0,");
        dir.Write("merges.txt", "#version: 0.2\n");
        LoadFails(dir, "vocab.json", "invalid JSON");
    }

    [Fact]
    public void VocabJsonWithAnIdThatIsNotANumber()
    {
        using var dir = new ScratchDir();
        dir.Write("vocab.json", """{"a": "zero"}""");
        dir.Write("merges.txt", "#version: 0.2\n");
        LoadFails(dir, "vocab.json", "token \"a\" has no valid id");
    }

    [Fact]
    public void MergesLineWithoutAPair()
    {
        using var dir = new ScratchDir();
        dir.Write("vocab.json", """{"a": 0, "b": 1, "ab": 2}""");
        dir.Write("merges.txt", "#version: 0.2\na b\nabc\n");
        LoadFails(dir, "merges.txt", "line 3");
    }

    [Fact]
    public void MergeOfTokensMissingFromTheVocabulary()
    {
        using var dir = new ScratchDir();
        dir.Write("vocab.json", """{"a": 0, "b": 1}""");
        dir.Write("merges.txt", "#version: 0.2\na b\n");
        LoadFails(dir, "merges.txt", "Microsoft.ML.Tokenizers cannot load it");
    }

    [Fact]
    public void EmptyVocabTxt()
    {
        using var dir = new ScratchDir();
        dir.Write("vocab.txt", "");
        LoadFails(dir, "vocab.txt", "empty");
    }

    [Fact]
    public void VocabTxtWithoutUnknownToken()
    {
        using var dir = new ScratchDir();
        dir.Write("vocab.txt", "[CLS]\n[SEP]\ncat\n");
        LoadFails(dir, "vocab.txt", "[UNK]");
    }

    [Fact]
    public void SpieceModelThatIsNotProtobuf()
    {
        using var dir = new ScratchDir();
        dir.Write("spiece.model", [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        LoadFails(dir, "spiece.model", "SentencePiece");
    }

    [Fact]
    public void MalformedTokenizerConfig()
    {
        using var dir = TokenizerFixtures.CopyOf("wordpiece");
        dir.Write("tokenizer_config.json", "{\"do_lower_case\": tru}");
        LoadFails(dir, "tokenizer_config.json", "invalid JSON");
    }

    [Fact]
    public void TokenizerConfigWithABadAddedToken()
    {
        using var dir = TokenizerFixtures.CopyOf("wordpiece");
        dir.Write("tokenizer_config.json", """{"added_tokens_decoder": {"x": {"content": "<image>"}}}""");
        LoadFails(dir, "tokenizer_config.json", "added_tokens_decoder");
    }

    [Fact]
    public void MalformedSpecialTokensMap()
    {
        using var dir = TokenizerFixtures.CopyOf("wordpiece");
        dir.Write("special_tokens_map.json", "[1, 2]");
        LoadFails(dir, "special_tokens_map.json", "expected a JSON object");
    }

    [Fact]
    public void TokenizerJsonNotJson()
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", "not json");
        LoadFails(dir, "tokenizer.json", "invalid JSON");
    }

    [Fact]
    public void TokenizerJsonWithoutModel()
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", """{"version": "1.0"}""");
        LoadFails(dir, "tokenizer.json", "no \"model\"");
    }

    [Fact]
    public void TokenizerJsonWithAnUnsupportedModel()
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", """{"model": {"type": "WordLevel", "vocab": {"a": 0}}}""");
        LoadFails(dir, "tokenizer.json", "\"WordLevel\" is not supported");
    }

    [Fact]
    public void TokenizerJsonBpeThatIsNotByteLevel()
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", """{"pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""");
        LoadFails(dir, "tokenizer.json", "ByteLevel");
    }

    [Fact]
    public void TokenizerJsonWordPieceWithGapsInIds()
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", """{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 5}}}""");
        LoadFails(dir, "tokenizer.json", "without gaps");
    }

    [Fact]
    public void TokenizerJsonUnigramWithABadUnkId()
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", """{"model": {"type": "Unigram", "unk_id": 7, "vocab": [["<unk>", 0.0], ["a", -1.0]]}}""");
        LoadFails(dir, "tokenizer.json", "unk_id");
    }

    [Fact]
    public void TokenizerJsonWithAWronglyShapedVocab()
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", """{"model": {"type": "Unigram", "unk_id": 0, "vocab": {"a": 1}}}""");
        LoadFails(dir, "tokenizer.json", "unexpected structure");
    }

    [Fact]
    public void TokenizerJsonAddedTokenWithoutId()
    {
        using var dir = new ScratchDir();
        dir.Write("tokenizer.json", """{"added_tokens": [{"content": "<image>"}], "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}}""");
        LoadFails(dir, "tokenizer.json", "added_tokens");
    }
}
