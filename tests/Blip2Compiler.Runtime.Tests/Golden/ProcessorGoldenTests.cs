using Blip2Compiler.Processing;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// The processor-to-model path once: texts through <see cref="Blip2Processor.ProcessText"/> (OPT's real vocabulary,
/// the fixture model's num_query_tokens 6 and image token 117) give the fixture's prompt ids, and fed to the model
/// give Hugging Face's logits.
/// </summary>
public class ProcessorGoldenTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("blip2-processor-golden").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Words of the fixture's prompt ids: [5, 17, 33, 8, 71] and [9, 44, 12] after BOS.</summary>
    private static readonly (string Word, int Id)[] Words = [("b", 5), ("c", 17), ("d", 33), ("e", 8), ("f", 71), ("g", 9), ("h", 44), ("i", 12)];

    /// <summary>
    /// An OPT-style byte-level BPE tokenizer (GPT2Tokenizer files): &lt;pad&gt; 1, &lt;/s&gt; 2 as BOS, each word above
    /// one token by one merge of "Ġ" and its letter, GPT-2's 256 byte symbols above the model's 120 ids, other ids
    /// fillers; image token 117 from the fixture's config. Left padding, as generation wants.
    /// </summary>
    private void WriteTokenizer()
    {
        var vocab = new Dictionary<string, int> { ["<s>"] = 0, ["<pad>"] = 1, ["</s>"] = 2, ["<unk>"] = 3 };
        foreach (var (word, id) in Words) vocab["\u0120" + word] = id;
        for (var id = 0; id < 120; id++)
            if (!vocab.ContainsValue(id)) vocab[$"<filler{id}>"] = id;
        // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for 256 + n.
        var n = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            vocab[((char)(printable ? b : 256 + n++)).ToString()] = 120 + b;
        }
        File.WriteAllText(Path.Combine(_dir, "vocab.json"), System.Text.Json.JsonSerializer.Serialize(vocab));
        File.WriteAllText(Path.Combine(_dir, "merges.txt"), "#version: 0.2\n" + string.Concat(Words.Select(w => $"\u0120 {w.Word}\n")));
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"),
            """{ "tokenizer_class": "GPT2Tokenizer", "add_bos_token": true, "bos_token": "</s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "</s>", "padding_side": "left" }""");
        File.WriteAllText(Path.Combine(_dir, "preprocessor_config.json"), """{ "size": { "height": 32, "width": 32 } }""");
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void ProcessedTextsGiveTheFixturesIdsAndLogits()
    {
        using var g = new GoldenCase("blip2-opt");
        foreach (var file in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(g.ModelDirectory, file), Path.Combine(_dir, file));
        WriteTokenizer();
        var processor = Blip2Processor.Load(_dir, GoldenOpt.Info);

        // The fixture's prompts are ids without a text (its model has no tokenizer); the tokenizer written here makes
        // each word " b", " c", … one token of the fixture's ids, so these texts are those prompts.
        string[] texts = [" b c d e f", " g h i"];
        var fixtureIds = g["input_ids"];
        var fixtureMask = g["attention_mask"];
        var batch = processor.ProcessText(texts);
        var (ids, mask) = batch.ToTensors();
        // The longer row is the fixture's exactly; the shorter one has the same tokens, its padding where Hugging Face's
        // processor puts it (after the image tokens; the fixture was padded in front of them).
        Assert.Equal(fixtureIds.shape, ids.shape);
        Assert.True(ids[0].eq(fixtureIds[0]).all().item<bool>(), $"the longest row differs from the fixture's: {string.Join(",", ids[0].data<long>().ToArray())} for '{texts[0]}' / '{texts[1]}'");
        for (var b = 0; b < 2; b++)
        {
            var ours = ids[b].masked_select(mask[b].to_type(torch.ScalarType.Bool));
            var theirs = fixtureIds[b].masked_select(fixtureMask[b].to_type(torch.ScalarType.Bool));
            Assert.True(ours.eq(theirs).all().item<bool>(), $"row {b}: the processor's tokens differ from the fixture's");
        }

        // Fed to the model: Hugging Face's logits at every real position (OPT's positions come from the mask, so the
        // padding's place does not move them).
        using var model = GoldenOpt.Load(_dir);
        var logits = model.Forward(g["pixel_values"], ids, mask).Logits;
        for (var b = 0; b < 2; b++)
        {
            Tensor Real(Tensor l, Tensor m) => l[b].index_select(0, m[b].nonzero().squeeze(1));
            TensorAssert.Close(Real(g["logits"], fixtureMask), Real(logits, mask), what: $"row {b} logits");
        }
    }
}
