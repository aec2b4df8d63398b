using System.Text.Json;
using System.Text.Json.Nodes;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Text;

/// <summary>
/// Writes the tokenizer.json HF's converters make from a fixture case's own files (vocab.json + merges.txt,
/// vocab.txt, spiece.model), so the tokenizer.json path can be checked against the same reference ids.
/// </summary>
internal static class TokenizerJsonWriter
{
    public static string For(string caseDir)
    {
        JsonObject json;
        if (File.Exists(Path.Combine(caseDir, "vocab.json"))) json = ByteLevelBpe(caseDir);
        else if (File.Exists(Path.Combine(caseDir, "vocab.txt"))) json = WordPiece(caseDir);
        else json = Unigram(caseDir);
        return json.ToJsonString();
    }

    private static JsonObject ByteLevelBpe(string dir)
    {
        var vocab = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "vocab.json")))!.AsObject();
        var merges = new JsonArray();
        foreach (var line in File.ReadLines(Path.Combine(dir, "merges.txt")).Where(l => l.Length > 0 && !l.StartsWith("#version")))
        {
            var pair = line.Split(' ');
            merges.Add(new JsonArray(pair[0], pair[1])); // the newer [a, b] form
        }
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(),
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel.DeepClone(),
            ["post_processor"] = byteLevel.DeepClone(),
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject { ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["vocab"] = vocab, ["merges"] = merges },
        };
    }

    private static JsonObject WordPiece(string dir)
    {
        var lines = File.ReadAllLines(Path.Combine(dir, "vocab.txt"));
        var vocab = new JsonObject();
        for (int id = 0; id < lines.Length; id++) vocab[lines[id]] = id;
        var specials = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        JsonObject Special(string token) => new() { ["id"] = token, ["ids"] = new JsonArray(Array.IndexOf(lines, token)), ["tokens"] = new JsonArray(token) };
        return new JsonObject
        {
            ["added_tokens"] = new JsonArray([.. specials.Select(t => (JsonNode)AddedToken(Array.IndexOf(lines, t), t))]),
            ["normalizer"] = new JsonObject { ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null, ["lowercase"] = true },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "[CLS]", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "[SEP]", ["type_id"] = 0 } }),
                ["special_tokens"] = new JsonObject { ["[CLS]"] = Special("[CLS]"), ["[SEP]"] = Special("[SEP]") },
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100, ["vocab"] = vocab,
            },
        };
    }

    // As transformers' T5 converter: the spm pieces and scores, its precompiled normalizer, Metaspace, "$A </s>".
    private static JsonObject Unigram(string dir)
    {
        var path = Path.Combine(dir, "spiece.model");
        var model = SentencePieceModel.Parse(File.ReadAllBytes(path), path);
        var vocab = new JsonArray([.. model.Pieces.Select(p => (JsonNode)new JsonArray(p.Piece, p.Score))]);
        var eos = model.Pieces[model.EosId].Piece;
        var normalizers = new JsonArray(new JsonObject { ["type"] = "Precompiled", ["precompiled_charsmap"] = Convert.ToBase64String(model.PrecompiledCharsmap) });
        if (model.RemoveExtraWhitespaces) normalizers.Add(new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = " {2,}" }, ["content"] = " " });
        var metaspace = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = model.AddDummyPrefix ? "always" : "never", ["split"] = true };
        return new JsonObject
        {
            ["added_tokens"] = new JsonArray([.. new[] { model.PadId, model.EosId, model.UnkId }.Where(id => id >= 0)
                .Select(id => (JsonNode)AddedToken(id, model.Pieces[id].Piece))]),
            ["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = normalizers },
            ["pre_tokenizer"] = metaspace.DeepClone(),
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = eos, ["type_id"] = 0 } }),
                ["special_tokens"] = new JsonObject { [eos] = new JsonObject { ["id"] = eos, ["ids"] = new JsonArray(model.EosId), ["tokens"] = new JsonArray(eos) } },
            },
            ["decoder"] = metaspace.DeepClone(),
            ["model"] = new JsonObject { ["type"] = "Unigram", ["unk_id"] = model.UnkId, ["vocab"] = vocab, ["byte_fallback"] = model.ByteFallback },
        };
    }

    private static JsonObject AddedToken(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };
}
