using System.Text.Json;

namespace Blip2Compiler.Processing;

/// <summary>
/// Reads HF tokenizers' <c>tokenizer.json</c> for the three models BLIP-2 checkpoints use: byte-level BPE (OPT),
/// WordPiece (BERT) and Unigram (T5, rebuilt into a SentencePiece model for Microsoft.ML.Tokenizers).
/// </summary>
internal static class HfTokenizerJson
{
    public static ITextTokenizer Load(string path, TokenizerConfig config)
    {
        var root = TokenizerJsonFile.Read(path);
        try
        {
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw new TokenizerFileException(path, "has no \"model\" object");
            var added = ReadAddedTokens(root, path);
            var template = root.TryGetProperty("post_processor", out var post) ? ReadTemplate(post) : null;
            var type = TokenizerJsonFile.String(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : null);
            return type switch
            {
                "BPE" => LoadBpe(path, root, model, config, added, template),
                "WordPiece" => LoadWordPiece(path, root, model, config, added, template),
                "Unigram" => LoadUnigram(path, root, model, config, added, template),
                _ => throw new TokenizerFileException(path, $"model type \"{type}\" is not supported (BPE, WordPiece or Unigram)"),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException or ArgumentException)
        {
            throw new TokenizerFileException(path, "unexpected structure: " + e.Message, e);
        }
    }

    private static ITextTokenizer LoadBpe(string path, JsonElement root, JsonElement model, TokenizerConfig config,
        IReadOnlyList<AddedToken> added, (IReadOnlyList<int>, IReadOnlyList<int>)? template)
    {
        var byteLevel = FindComponent(root, "pre_tokenizer", "ByteLevel");
        if (byteLevel is null && FindComponent(root, "decoder", "ByteLevel") is null)
            throw new TokenizerFileException(path, "BPE without a ByteLevel pre-tokenizer is not supported (only GPT-2 style byte-level BPE)");

        var vocab = TokenizerLoader.VocabObject(model.GetProperty("vocab"), path, "\"model.vocab\"");
        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var mergeList))
        {
            foreach (var merge in mergeList.EnumerateArray())
            {
                // Older files write "a b", newer ones ["a", "b"].
                var text = merge.ValueKind == JsonValueKind.Array ? string.Join(' ', merge.EnumerateArray().Select(p => p.GetString())) : merge.GetString();
                if (text is null || text.Split(' ').Length != 2)
                    throw new TokenizerFileException(path, $"\"model.merges\" entry {merge} is not a pair of tokens");
                merges.Add(text);
            }
        }
        bool addPrefixSpace = (byteLevel is { } pre ? TokenizerJsonFile.Bool(pre, "add_prefix_space") : null) ?? config.AddPrefixSpace ?? false;
        return TokenizerLoader.Construct(path, () => new ByteLevelBpeTokenizer(vocab, merges, addPrefixSpace, TokenizerLoader.ByteLevelSpecials(vocab, config, added, template)));
    }

    private static ITextTokenizer LoadWordPiece(string path, JsonElement root, JsonElement model, TokenizerConfig config,
        IReadOnlyList<AddedToken> added, (IReadOnlyList<int>, IReadOnlyList<int>)? template)
    {
        var vocabById = TokenizerLoader.VocabObject(model.GetProperty("vocab"), path, "\"model.vocab\"");
        var vocab = new string[vocabById.Count];
        foreach (var (token, id) in vocabById)
        {
            if (id >= vocab.Length || vocab[id] is not null)
                throw new TokenizerFileException(path, $"\"model.vocab\" ids must be 0..{vocab.Length - 1} without gaps or repeats (token \"{token}\" has {id})");
            vocab[id] = token;
        }

        var normalization = new BertNormalization(config.DoLowerCase ?? true, config.StripAccents, config.TokenizeChineseChars ?? true);
        if (FindComponent(root, "normalizer", "BertNormalizer") is { } bert)
            normalization = new BertNormalization(
                TokenizerJsonFile.Bool(bert, "lowercase") ?? true,
                TokenizerJsonFile.Bool(bert, "strip_accents"),
                TokenizerJsonFile.Bool(bert, "handle_chinese_chars") ?? true,
                TokenizerJsonFile.Bool(bert, "clean_text") ?? true);
        var decoder = FindComponent(root, "decoder", "WordPiece");
        int maxChars = model.TryGetProperty("max_input_chars_per_word", out var max) && max.ValueKind == JsonValueKind.Number ? max.GetInt32() : 100;

        return TokenizerLoader.CreateWordPiece(path, vocab, normalization,
            TokenizerJsonFile.String(model, "continuing_subword_prefix") ?? "##", maxChars,
            (decoder is { } d ? TokenizerJsonFile.Bool(d, "cleanup") : null) ?? true,
            config, added, template, TokenizerJsonFile.String(model, "unk_token"));
    }

    private static ITextTokenizer LoadUnigram(string path, JsonElement root, JsonElement model, TokenizerConfig config,
        IReadOnlyList<AddedToken> added, (IReadOnlyList<int>, IReadOnlyList<int>)? template)
    {
        var entries = model.GetProperty("vocab").EnumerateArray().Select(e => (Piece: e[0].GetString()!, Score: e[1].GetSingle())).ToList();
        if (entries.Count == 0) throw new TokenizerFileException(path, "\"model.vocab\" is empty");
        if (!model.TryGetProperty("unk_id", out var unk) || unk.ValueKind != JsonValueKind.Number || unk.GetInt32() is var unkId && (unkId < 0 || unkId >= entries.Count))
            throw new TokenizerFileException(path, "\"model.unk_id\" must be the id of a vocabulary entry");
        int UnkId() => model.GetProperty("unk_id").GetInt32();

        var specialIds = added.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        var pieces = entries.Select((e, id) => (e.Piece, e.Score,
            Type: id == UnkId() ? SentencePieceModel.UnknownPiece : specialIds.Contains(id) ? SentencePieceModel.ControlPiece : SentencePieceModel.NormalPiece)).ToList();
        int IdOf(string key, string fallback)
        {
            var content = config.TryGetNamedToken(key, out var configured) ? configured : fallback;
            return content is null ? -1 : entries.FindIndex(e => e.Piece == content);
        }

        var charsmap = FindComponent(root, "normalizer", "Precompiled") is { } precompiled
            && TokenizerJsonFile.String(precompiled, "precompiled_charsmap") is { } base64 ? Convert.FromBase64String(base64) : [];
        var metaspace = FindComponent(root, "pre_tokenizer", "Metaspace");
        bool addDummyPrefix = metaspace is not { } m
            || (TokenizerJsonFile.String(m, "prepend_scheme") != "never" && TokenizerJsonFile.Bool(m, "add_prefix_space") != false);
        bool removeExtraWhitespaces = FindComponent(root, "pre_tokenizer", "WhitespaceSplit") is not null
            || (FindComponent(root, "normalizer", "Replace") is { } replace && replace.TryGetProperty("pattern", out var pattern)
                && TokenizerJsonFile.String(pattern, "Regex") == " {2,}");

        var bytes = SentencePieceModel.BuildUnigram(pieces, UnkId(), IdOf("bos_token", "<s>"), IdOf("eos_token", "</s>"), IdOf("pad_token", "<pad>"),
            TokenizerJsonFile.Bool(model, "byte_fallback") ?? false, charsmap, addDummyPrefix, removeExtraWhitespaces);
        return TokenizerLoader.CreateSentencePiece(path, SentencePieceModel.Parse(bytes, path), config, added, template);
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, string path)
    {
        var tokens = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind == JsonValueKind.Null) return tokens;
        if (list.ValueKind != JsonValueKind.Array) throw new TokenizerFileException(path, "\"added_tokens\" must be an array");
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("id", out var id) || !id.TryGetInt32(out var tokenId) || tokenId < 0)
                throw new TokenizerFileException(path, $"\"added_tokens\" entry {item} has no valid \"id\"");
            tokens.Add(TokenizerJsonFile.ParseAddedToken(item, tokenId, path));
        }
        return tokens;
    }

    /// <summary>
    /// The ids a post-processor puts around a single sequence: TemplateProcessing's <c>single</c>, or
    /// Bert/RobertaProcessing's <c>cls</c> ... <c>sep</c>. Null when it adds nothing of its own (ByteLevel).
    /// </summary>
    private static (IReadOnlyList<int>, IReadOnlyList<int>)? ReadTemplate(JsonElement post)
    {
        if (post.ValueKind != JsonValueKind.Object) return null;
        switch (TokenizerJsonFile.String(post, "type"))
        {
            case "Sequence":
                foreach (var inner in post.GetProperty("processors").EnumerateArray())
                    if (ReadTemplate(inner) is { } found) return found;
                return null;
            case "BertProcessing":
            case "RobertaProcessing":
                return ([post.GetProperty("cls")[1].GetInt32()], [post.GetProperty("sep")[1].GetInt32()]);
            case "TemplateProcessing":
                var prefix = new List<int>();
                var suffix = new List<int>();
                var current = prefix;
                var specials = post.GetProperty("special_tokens");
                foreach (var piece in post.GetProperty("single").EnumerateArray())
                {
                    if (piece.TryGetProperty("Sequence", out _)) current = suffix;
                    else if (piece.TryGetProperty("SpecialToken", out var special))
                        current.AddRange(specials.GetProperty(special.GetProperty("id").GetString()!).GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()));
                }
                return (prefix, suffix);
            default:
                return null;
        }
    }

    /// <summary>The component of this type at <paramref name="key"/>, looking inside Sequence components.</summary>
    private static JsonElement? FindComponent(JsonElement root, string key, string type)
    {
        if (!root.TryGetProperty(key, out var component)) return null;
        return Find(component);

        JsonElement? Find(JsonElement c)
        {
            if (c.ValueKind != JsonValueKind.Object) return null;
            if (TokenizerJsonFile.String(c, "type") == type) return c;
            foreach (var listKey in new[] { "normalizers", "pretokenizers", "decoders" })
                if (c.TryGetProperty(listKey, out var list) && list.ValueKind == JsonValueKind.Array)
                    foreach (var inner in list.EnumerateArray())
                        if (Find(inner) is { } found) return found;
            return null;
        }
    }
}
