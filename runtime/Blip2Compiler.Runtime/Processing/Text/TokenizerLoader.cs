using System.Text.Json;

namespace Blip2Compiler.Processing;

/// <summary>
/// Loads the tokenizer a checkpoint folder ships, as <c>AutoTokenizer.from_pretrained</c> would: <c>tokenizer.json</c>
/// when present, else the model's own files (<c>vocab.json</c> + <c>merges.txt</c>, <c>vocab.txt</c> or
/// <c>spiece.model</c>), together with <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>.
/// </summary>
public static class TokenizerLoader
{
    public const string TokenizerJson = "tokenizer.json";
    public const string VocabJson = "vocab.json";
    public const string MergesTxt = "merges.txt";
    public const string VocabTxt = "vocab.txt";
    public const string SpieceModel = "spiece.model";

    /// <exception cref="TokenizerFileException">A tokenizer file is missing, malformed or of an unsupported kind.</exception>
    public static ITextTokenizer Load(string checkpointDir)
    {
        ArgumentNullException.ThrowIfNull(checkpointDir);
        if (!Directory.Exists(checkpointDir))
            throw new TokenizerFileException(checkpointDir, "checkpoint folder does not exist");

        var config = TokenizerConfig.Load(checkpointDir);
        string At(string name) => Path.Combine(checkpointDir, name);

        if (File.Exists(At(TokenizerJson))) return HfTokenizerJson.Load(At(TokenizerJson), config);
        if (File.Exists(At(VocabJson)))
        {
            if (!File.Exists(At(MergesTxt)))
                throw new TokenizerFileException(At(MergesTxt), $"missing: byte-level BPE needs it next to {VocabJson}");
            return LoadByteLevelBpe(At(VocabJson), At(MergesTxt), config);
        }
        if (File.Exists(At(VocabTxt))) return LoadWordPiece(At(VocabTxt), config);
        if (File.Exists(At(SpieceModel))) return LoadSentencePiece(At(SpieceModel), config);

        throw new TokenizerFileException(checkpointDir,
            $"no tokenizer files: expected {TokenizerJson}, {VocabJson} + {MergesTxt}, {VocabTxt} or {SpieceModel}");
    }

    internal static ByteLevelBpeTokenizer LoadByteLevelBpe(string vocabPath, string mergesPath, TokenizerConfig config)
    {
        var vocab = ReadVocabJson(vocabPath);
        var merges = new List<string>();
        var lines = TokenizerJsonFile.ReadLines(mergesPath);
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0 || (i == 0 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new TokenizerFileException(mergesPath, $"line {i + 1} is not a merge of two tokens separated by one space: \"{line}\"");
            merges.Add(line);
        }
        return Construct(mergesPath, () => new ByteLevelBpeTokenizer(vocab, merges, config.AddPrefixSpace ?? false, ByteLevelSpecials(vocab, config, [], null)));
    }

    /// <summary>Runs a Microsoft.ML.Tokenizers constructor, reporting what it rejects as a problem of the file.</summary>
    internal static T Construct<T>(string path, Func<T> create)
    {
        try
        {
            return create();
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException or FormatException or KeyNotFoundException or IOException)
        {
            throw new TokenizerFileException(path, "Microsoft.ML.Tokenizers cannot load it: " + e.Message, e);
        }
    }

    internal static BertWordPieceTokenizer LoadWordPiece(string vocabPath, TokenizerConfig config)
    {
        var vocab = TokenizerJsonFile.ReadLines(vocabPath);
        if (vocab.Length == 0) throw new TokenizerFileException(vocabPath, "vocabulary is empty");
        var normalization = new BertNormalization(config.DoLowerCase ?? true, config.StripAccents, config.TokenizeChineseChars ?? true);
        return CreateWordPiece(vocabPath, vocab, normalization, "##", 100, decoderCleanup: true, config, [], null);
    }

    internal static SentencePieceUnigramTokenizer LoadSentencePiece(string modelPath, TokenizerConfig config)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(modelPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFileException(modelPath, "cannot be read: " + e.Message, e);
        }
        return CreateSentencePiece(modelPath, SentencePieceModel.Parse(bytes, modelPath), config, [], null);
    }

    internal static Dictionary<string, int> ReadVocabJson(string path)
    {
        var root = TokenizerJsonFile.Read(path);
        return VocabObject(root, path, "vocabulary");
    }

    /// <summary>A JSON object of token -> id.</summary>
    internal static Dictionary<string, int> VocabObject(JsonElement obj, string path, string what)
    {
        if (obj.ValueKind != JsonValueKind.Object) throw new TokenizerFileException(path, $"{what} must be an object of token -> id");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in obj.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
                throw new TokenizerFileException(path, $"{what}: token \"{entry.Name}\" has no valid id ({entry.Value})");
            vocab[entry.Name] = id;
        }
        if (vocab.Count == 0) throw new TokenizerFileException(path, $"{what} is empty");
        return vocab;
    }

    internal static TokenizerSpecials ByteLevelSpecials(
        Dictionary<string, int> vocab, TokenizerConfig config, IReadOnlyList<AddedToken> added, (IReadOnlyList<int>, IReadOnlyList<int>)? template) =>
        new SpecialTokensResolver
        {
            BaseTokenToId = t => vocab.TryGetValue(t, out var id) ? id : null,
            Config = config,
            AddedTokens = added,
            Template = template,
            // GPT2Tokenizer's defaults.
            Defaults = new Dictionary<string, string?> { ["bos_token"] = "<|endoftext|>", ["eos_token"] = "<|endoftext|>", ["unk_token"] = "<|endoftext|>" },
        }.Resolve();

    internal static BertWordPieceTokenizer CreateWordPiece(
        string path, IReadOnlyList<string> vocab, BertNormalization normalization, string subwordPrefix, int maxInputCharsPerWord,
        bool decoderCleanup, TokenizerConfig config, IReadOnlyList<AddedToken> added, (IReadOnlyList<int>, IReadOnlyList<int>)? template,
        string? unkToken = null)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = vocab.Count - 1; id >= 0; id--) index[vocab[id]] = id;
        var specials = new SpecialTokensResolver
        {
            BaseTokenToId = t => index.TryGetValue(t, out var id) ? id : null,
            Config = config,
            AddedTokens = added,
            Template = template,
            // BertTokenizer's defaults: [CLS] text [SEP].
            Defaults = new Dictionary<string, string?>
            {
                ["unk_token"] = unkToken ?? "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]",
            },
            DefaultPrefix = ["cls_token"],
            DefaultSuffix = ["sep_token"],
        }.Resolve();

        unkToken ??= config.TryGetNamedToken("unk_token", out var configured) && configured is not null ? configured : "[UNK]";
        if (!index.ContainsKey(unkToken))
            throw new TokenizerFileException(path, $"the unknown token \"{unkToken}\" is not in the vocabulary");
        return Construct(path, () => new BertWordPieceTokenizer(vocab, normalization, unkToken, subwordPrefix, maxInputCharsPerWord, decoderCleanup, specials));
    }

    internal static SentencePieceUnigramTokenizer CreateSentencePiece(
        string path, SentencePieceModel model, TokenizerConfig config, IReadOnlyList<AddedToken> added, (IReadOnlyList<int>, IReadOnlyList<int>)? template)
    {
        string? Piece(int id) => id >= 0 ? model.Pieces[id].Piece : null;
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = model.Pieces.Count - 1; id >= 0; id--) index[model.Pieces[id].Piece] = id;
        var modelSpecial = Enumerable.Range(0, model.Pieces.Count)
            .Where(id => model.Pieces[id].Type is SentencePieceModel.ControlPiece or SentencePieceModel.UnknownPiece).Append(model.UnkId);

        var specials = new SpecialTokensResolver
        {
            BaseTokenToId = t => index.TryGetValue(t, out var id) ? id : null,
            Config = config,
            AddedTokens = added,
            Template = template,
            ModelSpecialIds = modelSpecial,
            // T5Tokenizer: the model's own special pieces; text then </s>.
            Defaults = new Dictionary<string, string?>
            {
                ["unk_token"] = Piece(model.UnkId), ["bos_token"] = Piece(model.BosId), ["eos_token"] = Piece(model.EosId), ["pad_token"] = Piece(model.PadId),
            },
            DefaultSuffix = ["eos_token"],
        }.Resolve();
        return Construct(path, () => new SentencePieceUnigramTokenizer(model, specials));
    }
}
