using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Blip2Compiler.Tests.Golden;
using Blip2Compiler.Tests.Serving;

namespace Blip2Compiler.Tests.Generation;

/// <summary>
/// Stop strings on real checkpoints: a stop string made of the end of one generated token's text and the start of
/// the next ends generation at that second token, and the returned text ends before it. The bundled tiny OPT
/// (byte-level BPE) and the Flan-T5 fixture (SentencePiece, encoder–decoder).
/// </summary>
public class StopStringDecodingTests(ServingModels models) : IClassFixture<ServingModels>
{
    /// <summary>
    /// The first generated token k + 1 whose text follows token k's by concatenation, both with visible characters:
    /// the stop string is token k's last character and token k + 1's text up to its first visible one, and it first
    /// occurs across exactly that boundary.
    /// </summary>
    private static (int Index, string Stop) AcrossTwoTokens(ITextTokenizer tokenizer, long[] tokens, HashSet<long> eos)
    {
        string Text(int count) => tokenizer.Decode(tokens.Take(count).Select(id => (int)id));
        for (var k = 0; k + 1 < tokens.Length && !eos.Contains(tokens[k + 1]); k++)
        {
            var (upTo, through, after) = (Text(k), Text(k + 1), Text(k + 2));
            if (!through.StartsWith(upTo, StringComparison.Ordinal) || !after.StartsWith(through, StringComparison.Ordinal)) continue;
            var next = after[through.Length..];
            var visible = next.TakeWhile(char.IsWhiteSpace).Count();
            if (through.Length == upTo.Length || char.IsWhiteSpace(through[^1]) || through[^1] == '\uFFFD' || visible == next.Length || next[visible] == '\uFFFD') continue;
            var stop = through[^1] + next[..(visible + 1)];
            if (after.IndexOf(stop, StringComparison.Ordinal) != through.Length - 1) continue;
            return (k + 1, stop);
        }
        throw new InvalidOperationException("no two consecutive tokens with visible text in the free caption");
    }

    private static void StopsAcrossTwoTokens(Blip2Captioner captioner, HashSet<long> eos, GenerationOptions options, string? prompt)
    {
        var image = ServingModels.Image(1);
        var free = captioner.Generate(image, prompt, options).NewTokens[0];
        var (index, stop) = AcrossTwoTokens(captioner.Tokenizer, free, eos);

        var stopped = captioner.Generate(image, prompt, options with { StopStrings = [stop] }).NewTokens[0];
        Assert.Equal(free.Take(index + 1), stopped);   // ends at the token that completes the stop string
        var freeText = captioner.Tokenizer.Decode(free.Select(id => (int)id));
        var expected = freeText[..freeText.IndexOf(stop, StringComparison.Ordinal)].Trim();
        Assert.Equal(expected, captioner.Caption([image], [prompt], options with { StopStrings = [stop] })[0]);
        // Streaming holds back what could be the start of the stop string: the pieces make the same text.
        var pieces = new List<string>();
        var streamed = captioner.CaptionStreaming(image, prompt, options with { StopStrings = [stop] }, pieces.Add);
        Assert.Equal(expected, streamed);
        Assert.Equal(expected, string.Concat(pieces));
    }

    [Fact]
    public void AStopStringAcrossTwoTokensEndsOptGeneration()
    {
        var eos = new HashSet<long>(models.Opt.GenerationSettings(models.Captioner.Defaults).EosTokenIds ?? []);
        StopsAcrossTwoTokens(models.Captioner, eos, new GenerationOptions { MaxNewTokens = 16 }, "a photo of");
    }

    [Fact]
    public void AStopStringAcrossTwoTokensEndsOptBeamSearch()
    {
        // Beam search, one beam per step narrowed by the stop: the best hypothesis either holds the stop (cut there)
        // or never produced it; in both cases its text has no stop string left.
        var options = new GenerationOptions { MaxNewTokens = 12, NumBeams = 3 };
        var image = ServingModels.Image(2);
        var free = models.Captioner.Generate(image, null, options).NewTokens[0];
        var eos = new HashSet<long>(models.Opt.GenerationSettings(models.Captioner.Defaults).EosTokenIds ?? []);
        var (_, stop) = AcrossTwoTokens(models.Captioner.Tokenizer, free, eos);
        var result = models.Captioner.Generate(image, null, options with { StopStrings = [stop], OutputScores = true });
        foreach (var (tokens, k) in result.NewTokens.Select((t, k) => (t, k)))
        {
            var text = models.Captioner.Tokenizer.Decode(tokens.Select(id => (int)id));
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            // A stop, if any, is completed by the hypothesis's last real token.
            if (at >= 0) Assert.Equal(result.TokenScores![k].Length, tokens.TakeWhile(id => !eos.Contains(id)).Count());
        }
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void AStopStringAcrossTwoTokensEndsT5Generation()
    {
        using var model = GoldenFlanT5.Load(Fixtures.Golden("blip2-flan-t5") + "/model");
        var tokenizer = TokenizerLoader.Load(Fixtures.Golden("tokenizers") + "/unigram_spm");
        var captioner = new Blip2Captioner(model, models.Captioner.Images, tokenizer);
        var eos = new HashSet<long>(model.GenerationSettings(null).EosTokenIds ?? []);
        // The fixture's vocabulary is the first 120 ids of the tokenizer's: no prompt text, as the engine tests.
        StopsAcrossTwoTokens(captioner, eos, new GenerationOptions { MaxNewTokens = 16 }, null);
    }
}
