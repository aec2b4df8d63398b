using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

public class SearchTests
{
    private static readonly long[] RowA = [3, 7, 1];
    private static readonly long[] RowB = [0, 9, 9];

    [Fact]
    public void GreedyPicksTheArgmaxOfEveryRow()
    {
        var model = TrigramModel.Random(12, seed: 1);
        var result = GenerationLoop.Generate(model.Factory(Reference.Context(RowA, RowB)), Reference.Context(RowA, RowB),
            new GenerationOptions { MaxNewTokens = 6 });

        Assert.Equal(Reference.Greedy(model, RowA, 6), result.NewTokens[0]);
        Assert.Equal(Reference.Greedy(model, RowB, 6), result.NewTokens[1]);
        Assert.Equal(RowA.Concat(result.NewTokens[0]), result.Sequences[0]);
        Assert.Null(result.SequenceScores);
        Assert.Equal(6, model.Steps);   // one model call per generated token, none after the last
    }

    [Fact]
    public void MaxLengthCountsTheContext()
    {
        var model = TrigramModel.Random(12, seed: 1);
        var context = Reference.Context(RowA);
        var result = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxLength = RowA.Length + 4 });
        Assert.Equal(RowA.Length + 4, result.Sequences[0].Length);

        var unset = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions());
        Assert.Equal(20, unset.NewTokens[0].Length);   // Hugging Face's default: 20 new tokens
    }

    [Fact]
    public void ContextAlreadyAtMaxLengthIsAnOptionError()
    {
        var model = TrigramModel.Random(12, seed: 1);
        var context = Reference.Context(RowA);
        var error = Assert.Throws<InvalidGenerationOptionException>(() =>
            GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxLength = RowA.Length }));
        Assert.Equal("max_length", error.Option);
    }

    [Fact]
    public void RowsStopAtTheirOwnEosAndAreFilledWithPad()
    {
        // Each id is followed by the next one, except 3, which is followed by EOS (5).
        const long eos = 5, pad = 0;
        var table = zeros(6, 6, 6);
        for (var last = 0; last < 6; last++)
            table[TensorIndex.Colon, last, last == 3 ? eos : (last + 1) % 5] = 10f;
        var model = new TrigramModel(table);
        var context = Reference.Context([0, 2], [0, 0]);

        var result = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [eos], PadTokenId = pad });

        Assert.Equal([3L, 5, 0, 0], result.NewTokens[0]);
        Assert.Equal([1L, 2, 3, 5], result.NewTokens[1]);
        Assert.Equal(4, model.Steps);   // stopped as soon as every row was finished
    }

    [Fact]
    public void AnyOfSeveralEosIdsStopsARow()
    {
        var model = TrigramModel.Random(10, seed: 4);
        var context = Reference.Context(RowA);
        var free = Reference.Greedy(model, RowA, 8);
        long[] eos = [free[2], 99];
        var result = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 8, EosTokenIds = eos });
        Assert.Equal(Reference.Greedy(model, RowA, 8, eos), result.NewTokens[0]);
        Assert.True(result.NewTokens[0].Length <= 3);
    }

    [Fact]
    public void PadDefaultsToTheFirstEos()
    {
        var table = zeros(4, 4, 4);
        for (var last = 0; last < 4; last++) table[TensorIndex.Colon, last, last == 1 ? 3 : 1] = 10f;
        var model = new TrigramModel(table);
        var context = Reference.Context([0, 1], [0, 0]);
        var result = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 4, EosTokenIds = [3, 2] });
        Assert.Equal([3L, 3], result.NewTokens[0]);   // EOS, then pad = eos[0]
        Assert.Equal([1L, 3], result.NewTokens[1]);
    }

    [Fact]
    public void RepetitionPenaltyCoversContextAndGeneratedTokens()
    {
        var model = TrigramModel.Random(8, seed: 5);
        var context = Reference.Context(RowA);
        var result = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 10, RepetitionPenalty = 3.0 });
        var expected = Reference.Greedy(model, RowA, 10, process: (ids, l) => Reference.RepetitionPenalty(ids, l, 3.0f));
        Assert.Equal(expected, result.NewTokens[0]);
        Assert.NotEqual(Reference.Greedy(model, RowA, 10), expected);   // the penalty does change this run
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void NoRepeatNGramNeverRepeatsAnNGram(int n)
    {
        var model = TrigramModel.Random(9, seed: 6);
        var context = Reference.Context([4, 4, 2], [1, 0, 1]);
        var result = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 5, NoRepeatNgramSize = n });

        for (var row = 0; row < 2; row++)
        {
            var contextRow = result.Sequences[row][..3];
            var expected = Reference.Greedy(model, contextRow, 5, process: (ids, l) => Reference.NoRepeatNGram(ids, l, n));
            Assert.Equal(expected, result.NewTokens[row]);
            var grams = Enumerable.Range(0, result.Sequences[row].Length - n + 1)
                .Select(i => string.Join(",", result.Sequences[row].Skip(i).Take(n))).ToList();
            for (var i = 0; i < grams.Count; i++)
                if (i + n > 3) Assert.DoesNotContain(grams[i], grams.Take(i));   // generated n-grams are all new
        }
    }

    [Fact]
    public void MinNewTokensAndMinLengthSuppressEos()
    {
        const long eos = 2;
        var table = TrigramModel.Random(6, seed: 7).Table.clone();
        table[TensorIndex.Colon, TensorIndex.Colon, eos] += 100f;   // EOS is everyone's favourite
        var model = new TrigramModel(table);
        var context = Reference.Context(RowA.Select(id => id % 6).ToArray());

        var free = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxNewTokens = 8, EosTokenIds = [eos] });
        Assert.Equal([eos], free.NewTokens[0]);

        var minNew = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 8, MinNewTokens = 3, EosTokenIds = [eos] });
        Assert.Equal(4, minNew.NewTokens[0].Length);
        Assert.DoesNotContain(eos, minNew.NewTokens[0][..3]);
        Assert.Equal(eos, minNew.NewTokens[0][3]);

        var minLength = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 8, MinLength = RowA.Length + 2, EosTokenIds = [eos] });
        Assert.Equal(3, minLength.NewTokens[0].Length);
        Assert.Equal(eos, minLength.NewTokens[0][2]);
    }

    [Fact]
    public void SamplingWithASeedRepeatsAndAnotherSeedDiffers()
    {
        var model = TrigramModel.Random(40, seed: 8, scale: 1f);
        var context = Reference.Context(RowA, RowB);
        GenerationResult Sample(long seed) => GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 16, DoSample = true, Seed = seed, NumReturnSequences = 2, TopK = 0 });

        var first = Sample(11);
        Assert.Equal(first.Sequences, Sample(11).Sequences);
        Assert.NotEqual(first.Sequences, Sample(12).Sequences);
        Assert.Equal(4, first.Sequences.Length);
        Assert.Equal(RowA, first.Sequences[1][..3]);   // the copies of one input are adjacent
        Assert.NotEqual(first.NewTokens[0], first.NewTokens[1]);
    }

    [Fact]
    public void SamplingWithTopK1OrTinyTemperatureIsGreedy()
    {
        var model = TrigramModel.Random(30, seed: 9);
        var context = Reference.Context(RowA, RowB);
        var greedy = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxNewTokens = 10 });
        var topK1 = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 10, DoSample = true, TopK = 1, Seed = 3 });
        var cold = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 10, DoSample = true, Temperature = 1e-4, Seed = 3 });
        Assert.Equal(greedy.Sequences, topK1.Sequences);
        Assert.Equal(greedy.Sequences, cold.Sequences);
    }

    [Fact]
    public void OneBeamIsGreedy()
    {
        var model = TrigramModel.Random(12, seed: 10);
        var context = Reference.Context(RowA, RowB);
        var greedy = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxNewTokens = 7 });
        var viaOptions = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxNewTokens = 7, NumBeams = 1 });

        // The beam-search loop itself with a single beam (generate routes num_beams=1 to greedy search).
        var plan = GenerationPlan.Resolve(new GenerationOptions { MaxNewTokens = 7, NumBeams = 1 }, 3);
        var beam = BeamSearch.Run(model.Factory(context), context, plan, LogitsProcessorList.For(plan));

        Assert.Equal(greedy.Sequences, viaOptions.Sequences);
        Assert.Equal(greedy.Sequences, beam.Sequences);
    }

    [Theory]
    [InlineData(1.0, "never")]
    [InlineData(1.0, "false")]
    [InlineData(2.0, "false")]
    [InlineData(0.5, "never")]
    [InlineData(0.0, "never")]
    [InlineData(-1.0, "true")]
    public void ExhaustiveBeamSearchFindsTheBestHypotheses(double lengthPenalty, string earlyStopping)
    {
        // 4 ids, EOS 3, 3 new tokens: with 36 beams no continuation is ever dropped, so beam search must return the
        // best of all finished hypotheses, scored as Hugging Face scores them.
        const long eos = 3, pad = 1;
        const int maxNew = 3, beams = 36, returned = 5;
        var model = TrigramModel.Random(4, seed: 11, scale: 1.5f);
        long[][] contexts = [[0, 2], [1, 1]];
        var context = Reference.Context(contexts);

        var result = GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions
        {
            MaxNewTokens = maxNew, NumBeams = beams, NumReturnSequences = returned, EosTokenIds = [eos], PadTokenId = pad,
            LengthPenalty = lengthPenalty, EarlyStopping = EarlyStopping.Parse(earlyStopping),
        });

        Assert.Equal(2 * returned, result.Sequences.Length);
        for (var input = 0; input < 2; input++)
        {
            var best = Reference.AllHypotheses(model, contexts[input], maxNew, eos, lengthPenalty).Take(returned).ToList();
            for (var k = 0; k < returned; k++)
            {
                var row = input * returned + k;
                var tokens = result.NewTokens[row];
                Assert.Equal(best[k].Tokens, tokens.Take(best[k].Tokens.Length));
                Assert.All(tokens.Skip(best[k].Tokens.Length), id => Assert.Equal(pad, id));
                Assert.Equal(best[k].Score, result.SequenceScores![row], 5);
            }
        }
    }

    [Fact]
    public void BeamSearchWithFewBeamsMatchesAHandTracedSearch()
    {
        // 2 beams over the random model, traced on the host exactly as the vectorised search works.
        var model = TrigramModel.Random(7, seed: 12);
        long[] contextRow = [5, 6];
        var context = Reference.Context(contextRow);
        const int maxNew = 5;
        var result = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = maxNew, NumBeams = 2, NumReturnSequences = 2 });

        // No EOS: every beam runs to max_length, and the search keeps the 2 best running beams each step.
        var running = new List<(List<long> Ids, float Score)> { (contextRow.ToList(), 0f) };
        for (var step = 0; step < maxNew; step++)
            running = running
                .SelectMany(b => model.LogProbs(b.Ids).Select((lp, t) => (Ids: new List<long>(b.Ids) { t }, Score: b.Score + lp)))
                .OrderByDescending(c => c.Score).Take(2).ToList();

        for (var k = 0; k < 2; k++)
        {
            Assert.Equal(running[k].Ids, result.Sequences[k]);
            Assert.Equal(running[k].Score / maxNew, result.SequenceScores![k], 5);
        }
    }

    [Fact]
    public void BeamSearchFillsWithEosWhenPadIsZero()
    {
        // Hugging Face fills unfinished positions with `pad_token_id or eos_token_id[0]`: a pad id of 0 (T5's) gives EOS.
        const long eos = 2;
        var table = zeros(4, 4, 4);
        table[TensorIndex.Colon, TensorIndex.Colon, 1] = 1f;
        table[TensorIndex.Colon, 0, eos] = 5f;   // after 0, EOS is near certain
        var model = new TrigramModel(table);
        var context = Reference.Context([3, 0]);
        var result = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 4, NumBeams = 2, EosTokenIds = [eos], PadTokenId = 0 });
        Assert.Equal([eos], result.NewTokens[0]);

        var longer = GenerationLoop.Generate(model.Factory(context), context,
            new GenerationOptions { MaxNewTokens = 4, NumBeams = 2, NumReturnSequences = 2, EosTokenIds = [eos], PadTokenId = 0 });
        Assert.Equal(eos, longer.NewTokens[0][0]);
        Assert.All(longer.NewTokens[0].Skip(1), id => Assert.Equal(eos, id));
    }

    [Fact]
    public void EarlyStoppingTrueStopsOnceEveryBeamSlotHasFinished()
    {
        const long eos = 4;
        var table = TrigramModel.Random(5, seed: 13).Table.clone();
        table[TensorIndex.Colon, TensorIndex.Colon, eos] += 1.5f;   // EOS often among the best continuations
        var model = new TrigramModel(table);
        var context = Reference.Context([0, 1], [2, 3]);
        (GenerationResult Result, int Steps) Run(EarlyStopping early)
        {
            var counted = new TrigramModel(model.Table);
            var result = GenerationLoop.Generate(counted.Factory(context), context, new GenerationOptions
            {
                MaxNewTokens = 12, NumBeams = 2, NumReturnSequences = 2, EosTokenIds = [eos], PadTokenId = 0, EarlyStopping = early,
            });
            return (result, counted.Steps);
        }

        var eager = Run(EarlyStopping.True);
        var heuristic = Run(EarlyStopping.False);
        var never = Run(EarlyStopping.Never);
        Assert.True(eager.Steps <= heuristic.Steps && heuristic.Steps <= never.Steps,
            $"steps: true {eager.Steps}, false {heuristic.Steps}, never {never.Steps}");
        Assert.True(eager.Steps < never.Steps);
        // Searching longer can only find hypotheses at least as good.
        for (var row = 0; row < 4; row += 2)
            Assert.True(never.Result.SequenceScores![row] >= eager.Result.SequenceScores![row] - 1e-6);
        Assert.All(eager.Result.NewTokens, tokens => Assert.Contains(eos, tokens));
    }

    [Fact]
    public void BeamSamplingWithASeedRepeats()
    {
        var model = TrigramModel.Random(20, seed: 14, scale: 1f);
        var context = Reference.Context(RowA, RowB);
        GenerationResult Sample(long seed) => GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions
        {
            MaxNewTokens = 8, NumBeams = 3, NumReturnSequences = 3, DoSample = true, Seed = seed, EosTokenIds = [19],
        });
        var first = Sample(21);
        Assert.Equal(first.Sequences, Sample(21).Sequences);
        Assert.Equal(first.SequenceScores, Sample(21).SequenceScores);
        Assert.NotEqual(first.Sequences, Sample(22).Sequences);
        for (var input = 0; input < 2; input++)   // best first within each input
            for (var k = 1; k < 3; k++)
                Assert.True(first.SequenceScores![input * 3 + k - 1] >= first.SequenceScores[input * 3 + k]);
    }

    [Fact]
    public void OptionErrorsComeBeforeAnyModelWork()
    {
        var calls = 0;
        DecoderFactory factory = (_, _) => { calls++; throw new InvalidOperationException("not reached"); };
        Assert.Throws<InvalidGenerationOptionException>(() =>
            GenerationLoop.Generate(factory, Reference.Context(RowA), new GenerationOptions { NumBeams = 0 }));
        Assert.Equal(0, calls);
    }
}
