using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

/// <summary>
/// Stop strings, output_scores and group beam search through the decoding loops on the toy trigram model, against
/// expectations computed on the host from Hugging Face's definitions.
/// </summary>
public class ControlSearchTests
{
    /// <summary>The ids of <paramref name="tokens"/> up to the first that is an EOS or completes <paramref name="stop"/> in the text.</summary>
    private static long[] EndAtStop(IReadOnlyList<long> tokens, PieceTokenizer tokenizer, string stop, long? eos = null)
    {
        for (var j = 0; j < tokens.Count; j++)
            if (tokens[j] == eos || tokenizer.Text(tokens.Take(j + 1)).Contains(stop, StringComparison.Ordinal))
                return [.. tokens.Take(j + 1)];
        return [.. tokens];
    }

    [Fact]
    public void AStopStringAcrossTwoTokensEndsGreedySearch()
    {
        var model = TrigramModel.Random(7, seed: 21);
        var tokenizer = new PieceTokenizer(7);
        long[] row = [5, 6];
        var context = Reference.Context(row);
        var free = Reference.Greedy(model, row, 10);
        // The end of token 3's text and the start of token 4's: only ever found across a boundary.
        var stop = PieceTokenizer.Piece(free[3])[1..] + PieceTokenizer.Piece(free[4])[..1];
        var expected = EndAtStop(free, tokenizer, stop);
        Assert.True(expected.Length <= 5 && expected.Length >= 2);

        var result = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 10, StopStrings = [stop], Tokenizer = tokenizer });
        Assert.Equal(expected, result.NewTokens[0]);   // the completing token kept, as Hugging Face returns it
        var text = tokenizer.Text(result.NewTokens[0]);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], StopStringCriteria.Cut(text, [stop]));
    }

    [Fact]
    public void AStoppedRowIsPaddedWhileTheOthersGoOn()
    {
        const long eos = 0, pad = 1;
        var model = TrigramModel.Random(7, seed: 22);
        var tokenizer = new PieceTokenizer(7, eos);
        long[] a = [5, 6], b = [2, 4];
        var context = Reference.Context(a, b);
        var freeA = Reference.Greedy(model, a, 8, [eos]);
        var freeB = Reference.Greedy(model, b, 8, [eos]);
        Assert.True(freeA.Count >= 3, "row A needs 3 tokens before any EOS for this test");
        var stop = PieceTokenizer.Piece(freeA[1])[1..] + PieceTokenizer.Piece(freeA[2]);
        var rows = new[] { EndAtStop(freeA, tokenizer, stop, eos), EndAtStop(freeB, tokenizer, stop, eos) };

        var result = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions
        {
            MaxNewTokens = 8, EosTokenIds = [eos], PadTokenId = pad, StopStrings = ["zZzZ", stop], Tokenizer = tokenizer,
        });
        Assert.Equal(Reference.PadRows(rows.Select(r => r.ToList()), pad), result.NewTokens);
    }

    [Fact]
    public void StopStringsNeedATokenizer()
    {
        var model = TrigramModel.Random(4, seed: 1);
        var context = Reference.Context([1, 2]);
        var error = Assert.Throws<InvalidGenerationOptionException>(() =>
            GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { StopStrings = ["x"] }));
        Assert.Equal("stop_strings", error.Option);
        Assert.Throws<InvalidGenerationOptionException>(() => new GenerationOptions { StopStrings = [""] }.Validate());
    }

    [Fact]
    public void ExhaustiveBeamSearchEndsHypothesesAtStopStrings()
    {
        // As the exhaustive beam test, with a stop string ending hypotheses as EOS does (HF's stopping criteria on
        // the beam candidates): the best of every hypothesis that ends at EOS, at a stop string or at max length.
        const long eos = 3, pad = 1;
        const int maxNew = 3, beams = 36, returned = 4;
        var tokenizer = new PieceTokenizer(4, eos);
        long[] row = [0, 2];
        var context = Reference.Context(row);

        List<(long[] Tokens, float Score)> Hypotheses(TrigramModel model, string stop)
        {
            var found = new List<(long[] Tokens, float Score)>();
            void Walk(List<long> ids, float sum)
            {
                var logProbs = model.LogProbs(ids);
                for (var token = 0; token < logProbs.Length; token++)
                {
                    var next = new List<long>(ids) { token };
                    var generated = next.Skip(row.Length).ToArray();
                    var total = sum + logProbs[token];
                    if (token == eos || generated.Length == maxNew || tokenizer.Text(generated).Contains(stop, StringComparison.Ordinal))
                        found.Add((generated, total / generated.Length));
                    else Walk(next, total);
                }
            }
            Walk([.. row], 0f);
            return [.. found.OrderByDescending(h => h.Score).Take(returned)];
        }
        // The first model and boundary-spanning stop ("Ab": token 0 then token 1, …) for which a stop ends one of
        // the best hypotheses, so the test covers a stop.
        var (model, stop) = (from seed in Enumerable.Range(11, 40)
                             let m = TrigramModel.Random(4, seed, scale: 1.5f)
                             from x in new long[] { 0, 1, 2 }
                             from y in new long[] { 0, 1, 2 }
                             let s = PieceTokenizer.Piece(x)[1..] + PieceTokenizer.Piece(y)[..1]
                             where Hypotheses(m, s).Any(h => h.Tokens.Length < maxNew && tokenizer.Text(h.Tokens).Contains(s, StringComparison.Ordinal))
                             select (m, s)).First();

        var result = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions
        {
            MaxNewTokens = maxNew, NumBeams = beams, NumReturnSequences = returned, EosTokenIds = [eos], PadTokenId = pad,
            StopStrings = [stop], Tokenizer = tokenizer, OutputScores = true,
        });
        var best = Hypotheses(model, stop);
        for (var k = 0; k < returned; k++)
        {
            Assert.Equal(best[k].Tokens, result.NewTokens[k].Take(best[k].Tokens.Length));
            Assert.Equal(best[k].Score, result.SequenceScores![k], 5);
            // output_scores: the hypothesis's own log-probabilities, summing to its score × length.
            var prefix = row.ToList();
            var scores = result.TokenScores![k];
            Assert.Equal(best[k].Tokens.Length, scores.Length);
            for (var i = 0; i < scores.Length; i++)
            {
                Assert.Equal(model.LogProbs(prefix)[best[k].Tokens[i]], scores[i], 5);
                prefix.Add(best[k].Tokens[i]);
            }
            Assert.Equal(result.SequenceScores![k] * scores.Length, scores.Sum(), 4);
        }
    }

    [Fact]
    public void GreedyOutputScoresAreTheChosenTokensLogProbabilitiesAfterTheProcessors()
    {
        const long eos = 2, pad = 0;
        var model = TrigramModel.Random(6, seed: 23);
        long[] a = [1, 3], b = [4, 5];
        var context = Reference.Context(a, b);
        var result = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions
        {
            MaxNewTokens = 6, EosTokenIds = [eos], PadTokenId = pad, SuppressTokens = [4], OutputScores = true,
        });
        for (var r = 0; r < 2; r++)
        {
            var ids = (r == 0 ? a : b).ToList();
            var tokens = result.NewTokens[r];
            var real = tokens.Contains(eos) ? Array.IndexOf(tokens, eos) + 1 : tokens.Length;
            Assert.Equal(real, result.TokenScores![r].Length);   // up to and including EOS, none for the pad filling
            for (var i = 0; i < real; i++)
            {
                // log_softmax over the processed logits: token 4 suppressed (−inf) leaves the others' sum.
                var logits = model.Logits(ids);
                var rest = Enumerable.Range(0, logits.Length).Where(t => t != 4).Select(t => (double)logits[t]).ToArray();
                var max = rest.Max();
                var logSum = max + Math.Log(rest.Sum(x => Math.Exp(x - max)));
                Assert.Equal(logits[tokens[i]] - logSum, result.TokenScores[r][i], 4);
                ids.Add(tokens[i]);
            }
        }
        Assert.Null(GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxNewTokens = 2 }).TokenScores);
    }

    [Theory]
    [InlineData(0.0)]   // tiny penalty: group 1 is free unless tied
    [InlineData(2.5)]
    [InlineData(100.0)] // group 1 never repeats group 0's token of the step
    public void GroupBeamSearchWithGroupsOfOneIsGreedyUnderTheHammingPenalty(double extra)
    {
        // num_beams 3 in 3 groups: each group keeps one beam, so _group_beam_search reduces to a greedy step per
        // group on log-probabilities minus diversity_penalty × (earlier groups' beams that chose the token this step),
        // each beam's score the sum of those processed values; no EOS, so all three run to max_new_tokens and are
        // returned best first by score / length.
        var penalty = 0.01 + extra;
        const int maxNew = 4;
        var model = TrigramModel.Random(5, seed: 24);
        long[] row = [1, 2];
        var context = Reference.Context(row);
        var result = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions
        {
            MaxNewTokens = maxNew, NumBeams = 3, NumBeamGroups = 3, DiversityPenalty = penalty, NumReturnSequences = 3, OutputScores = true,
        });

        var beams = Enumerable.Range(0, 3).Select(_ => (Ids: row.ToList(), Score: 0f, Steps: new List<float>())).ToArray();
        for (var step = 0; step < maxNew; step++)
        {
            var chosen = new List<long>();
            for (var g = 0; g < 3; g++)
            {
                var processed = model.LogProbs(beams[g].Ids).Select((lp, t) => lp - (float)(penalty * chosen.Count(c => c == t))).ToArray();
                var token = Array.IndexOf(processed, processed.Max());
                chosen.Add(token);
                beams[g].Ids.Add(token);
                beams[g].Score += processed[token];
                beams[g].Steps.Add(processed[token]);
            }
        }
        var expected = beams.OrderByDescending(b => b.Score).ToArray();
        for (var k = 0; k < 3; k++)
        {
            Assert.Equal(expected[k].Ids.Skip(row.Length), result.NewTokens[k]);
            Assert.Equal(expected[k].Score / maxNew, result.SequenceScores![k], 5);
            Assert.Equal(maxNew, result.TokenScores![k].Length);
            for (var i = 0; i < maxNew; i++) Assert.Equal(expected[k].Steps[i], result.TokenScores[k][i], 5);
        }
        if (extra >= 100)
            for (var i = 0; i < maxNew; i++)
                Assert.Equal(3, result.NewTokens.Select(t => t[i]).Distinct().Count());
    }

    [Fact]
    public void GroupBeamSearchKeepsItsFinishedHypothesesPerGroup()
    {
        // 4 beams in 2 groups with EOS, against an exhaustive bound: every returned hypothesis is a real path of
        // the model whose score is its own processed log-probabilities / length, ending at EOS or max length.
        const long eos = 3, pad = 0;
        const int maxNew = 4;
        var model = TrigramModel.Random(5, seed: 25, scale: 2f);
        long[] a = [1, 2], b = [4, 4];
        var context = Reference.Context(a, b);
        var result = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions
        {
            MaxNewTokens = maxNew, NumBeams = 4, NumBeamGroups = 2, DiversityPenalty = 1.0, NumReturnSequences = 2,
            EosTokenIds = [eos], PadTokenId = pad, OutputScores = true,
        });
        Assert.Equal(4, result.Sequences.Length);
        for (var r = 0; r < 4; r++)
        {
            var tokens = result.NewTokens[r];
            var length = tokens.Contains(eos) ? Array.IndexOf(tokens, eos) + 1 : maxNew;
            Assert.All(tokens.Skip(length), id => Assert.Equal(pad, id));
            var scores = result.TokenScores![r];
            Assert.Equal(length, scores.Length);
            Assert.Equal(result.SequenceScores![r] * length, scores.Sum(), 4);
            if (r % 2 == 1) Assert.True(result.SequenceScores[r - 1] >= result.SequenceScores[r]);   // best first
        }
    }

    [Theory]
    [InlineData(4, 3, 1.0, false, "num_beam_groups")]   // 4 beams do not split into 3 groups
    [InlineData(4, 2, 0.0, false, "diversity_penalty")] // identical groups
    [InlineData(4, 2, -1.0, false, "diversity_penalty")]
    [InlineData(4, 2, 1.0, true, "do_sample")]          // group beam search does not sample
    [InlineData(4, 1, 1.0, false, "diversity_penalty")] // a penalty without groups (HF fails inside beam search)
    public void GroupBeamSearchOptionsFollowHuggingFacesValidation(int beams, int groups, double penalty, bool sample, string option)
    {
        var options = new GenerationOptions { NumBeams = beams, NumBeamGroups = groups, DiversityPenalty = penalty, DoSample = sample };
        Assert.Equal(option, Assert.Throws<InvalidGenerationOptionException>(options.Validate).Option);
    }

    [Fact]
    public void GroupOptionsWithoutBeamsAreIgnoredAsInHuggingFace()
    {
        // num_beams 1 is greedy (HF only warns about beam-only flags): the same tokens as without them.
        var model = TrigramModel.Random(5, seed: 26);
        var context = Reference.Context([1, 2]);
        var plain = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxNewTokens = 5 });
        var grouped = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 5, NumBeamGroups = 2, DiversityPenalty = 1.0 });
        Assert.Equal(plain.NewTokens, grouped.NewTokens);
    }
}
