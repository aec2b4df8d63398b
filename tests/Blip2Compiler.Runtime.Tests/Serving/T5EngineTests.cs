using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;
using Blip2Compiler.Serving;
using Blip2Compiler.Tests.Golden;

namespace Blip2Compiler.Tests.Serving;

/// <summary>
/// Flan-T5 requests through the engine's row batch (each slot its own encoder states, encoder mask and
/// cross-attention keys/values; the decoder's causal mask and relative position bias at each row's own position)
/// give the tokens of lone <c>Generate</c> calls, whatever joins, leaves or runs beside them. The fixture checkpoint
/// (8 relative buckets, max distance 16: rows past 16 positions take the log-spaced buckets) with the fixtures'
/// SentencePiece tokenizer (T5's special-id layout) and the tiny checkpoint's 32-pixel image processor.
/// </summary>
[Trait("Category", "Golden")]
public sealed class T5EngineTests : IDisposable
{
    // Prompts of different lengths (so different encoder lengths share a step), in words whose pieces are inside the
    // fixture model's 120-token vocabulary (the tokenizer has 800).
    private static readonly string?[] Prompts = [null, "a model of the encoder", "the decoder is", "return the hidden query of a model in torch", "a", "if self is not None"];

    private readonly T5ConditionalGeneration _model = GoldenFlanT5.Load(Fixtures.Golden("blip2-flan-t5") + "/model");
    private readonly Blip2Captioner _captioner;
    private readonly Blip2Processor _processor;

    public T5EngineTests()
    {
        var images = Blip2ImageProcessor.Load(Path.Combine(Fixtures.Root, "..", "..", "samples", "checkpoints", "blip2-tiny-opt"));
        var tokenizer = TokenizerLoader.Load(Fixtures.Golden("tokenizers") + "/unigram_spm");
        _captioner = new Blip2Captioner(_model, images, tokenizer);
        _processor = new Blip2Processor(images, tokenizer, (int)_model.ModelInfo.NumQueryTokens, (int?)_model.ModelInfo.ImageTokenIndex);
    }

    public void Dispose() => _model.Dispose();

    private static EngineRequest Greedy(int i) => new()
    {
        Image = ServingModels.Image(i),
        Prompt = Prompts[i % Prompts.Length],
        Options = new GenerationOptions { MaxNewTokens = 3 + (i * 7) % 23 },
    };

    /// <summary>A lone Generate's rows for the request: new tokens up to and including EOS (id 1).</summary>
    private long[][] LoneTokens(EngineRequest request)
    {
        var inputs = _processor.Process([request.Image], [request.Prompt]);
        var vocabulary = _model.ModelInfo.VocabSize;
        Assert.True(inputs.InputIds.max().item<long>() < vocabulary, $"the prompt '{request.Prompt}' has ids outside the model's vocabulary");
        var options = GenerationDefaults.Merge(_captioner.Defaults, request.Options);
        var result = _model.Generate(inputs.PixelValues, inputs.InputIds, inputs.AttentionMask, options);
        var rows = (options.NumBeams ?? 1) > 1 ? result.NewTokens.Take(options.NumReturnSequences ?? 1) : result.NewTokens;
        return [.. rows.Select(t => t.TakeWhile((_, k) => k == 0 || t[k - 1] != 1).ToArray())];
    }

    private void AssertLikeLoneCalls(IReadOnlyList<EngineRequest> requests, IReadOnlyList<EngineCompletion> completions, string label = "")
    {
        for (var i = 0; i < requests.Count; i++)
        {
            var lone = LoneTokens(requests[i]);
            Assert.Equal(lone.Length, completions[i].Sequences.Count);
            for (var r = 0; r < lone.Length; r++)
                Assert.True(lone[r].SequenceEqual(completions[i].Sequences[r].Tokens),
                    $"{label}request {i} ({requests[i].Prompt ?? "no prompt"}, {requests[i].Options?.MaxNewTokens} new tokens) row {r}: engine [{string.Join(' ', completions[i].Sequences[r].Tokens)}], lone [{string.Join(' ', lone[r])}]");
        }
    }

    [Fact]
    public async Task ConcurrentGreedyRequestsOfDifferentEncoderLengthsJoiningMidRunGiveTheLoneTokens()
    {
        await using var engine = new ContinuousBatchingEngine(_captioner, new EngineOptions { MaxBatch = 4, MaxQueue = 32 });
        var requests = Enumerable.Range(0, 12).Select(Greedy).ToList();
        // Some rows run long (past the 16-position max distance), kept going past EOS by min_new_tokens.
        requests[5] = requests[5] with { Options = new() { MaxNewTokens = 40, MinNewTokens = 40 } };
        requests[8] = requests[8] with { Options = new() { MaxNewTokens = 30, MinNewTokens = 25 } };
        // The first request holds the loop at its first streamed text until two more wait, so they join it mid-run
        // however fast the machine is; the rest arrive while those decode and join when rows free up.
        using var streaming = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        requests[0] = requests[0] with { Options = new() { MaxNewTokens = 35, MinNewTokens = 35 }, OnText = (_, _) => { streaming.Set(); gate.Wait(); } };
        var tasks = new List<Task<EngineCompletion>> { engine.GenerateAsync(requests[0]) };
        Assert.True(streaming.Wait(TimeSpan.FromSeconds(60)));
        tasks.AddRange(requests.Skip(1).Take(2).Select(r => engine.GenerateAsync(r)));
        gate.Set();
        var steps = engine.Statistics.DecodingSteps;
        while (engine.Statistics.DecodingSteps < steps + 2 && !tasks[0].IsCompleted) await Task.Delay(1);
        tasks.AddRange(requests.Skip(3).Select(r => engine.GenerateAsync(r)));
        var completions = await Task.WhenAll(tasks);

        AssertLikeLoneCalls(requests, completions);
        for (var i = 0; i < requests.Count; i++)
            Assert.Equal(_captioner.Caption([requests[i].Image], [requests[i].Prompt], requests[i].Options)[0], completions[i].Sequences[0].Text);
        var stats = engine.Statistics;
        Assert.Equal(requests.Count, stats.CompletedRequests);
        Assert.Equal(0, stats.RunningRows);
        Assert.Equal(completions.Sum(c => c.CompletionTokens), stats.GeneratedTokens);
        // Batched, not one after another on the side lane: fewer steps than the requests' tokens.
        Assert.True(stats.DecodingSteps < stats.GeneratedTokens - requests.Count, $"{stats.DecodingSteps} steps for {stats.GeneratedTokens} tokens");
    }

    [Fact]
    public async Task SeededSamplingProcessorsAndBeamsGiveTheLoneTokensWhateverRunsBeside()
    {
        EngineRequest[] special =
        [
            new() { Image = ServingModels.Image(1), Prompt = "the decoder is", Options = new() { MaxNewTokens = 20, MinNewTokens = 20, DoSample = true, Seed = 11, TopK = 10, TopP = 0.9, Temperature = 0.8 } },
            new() { Image = ServingModels.Image(2), Options = new() { MaxNewTokens = 9, DoSample = true, Seed = 4, TopK = 10, NumReturnSequences = 3 } },
            new() { Image = ServingModels.Image(3), Prompt = "a", Options = new() { MaxNewTokens = 12, RepetitionPenalty = 1.3, MinNewTokens = 8, NoRepeatNgramSize = 2 } },
            new() { Image = ServingModels.Image(4), Prompt = "a model of the encoder", Options = new() { MaxNewTokens = 5, NumBeams = 3, NumReturnSequences = 2 } },
        ];
        for (var round = 0; round < 2; round++)
        {
            await using var engine = new ContinuousBatchingEngine(_captioner, new EngineOptions { MaxBatch = 6 });
            // Other traffic, different each round: greedy rows and unseeded sampling around the seeded ones.
            var traffic = Enumerable.Range(round * 5, 5 + round * 3).Select(i => i % 2 == 0 ? Greedy(i)
                : Greedy(i) with { Options = new() { MaxNewTokens = 6 + i % 5, DoSample = true, TopP = 0.8 } }).ToList();
            var requests = round == 0 ? [.. special, .. traffic] : traffic.Take(3).Concat(special).Concat(traffic.Skip(3)).ToList();
            var completions = await Task.WhenAll(requests.Select(r => engine.GenerateAsync(r)));
            AssertLikeLoneCalls(special, [.. special.Select(s => completions[requests.IndexOf(s)])], $"round {round}: ");
        }
    }

    [Fact]
    public async Task ARequestWhoseRowsDoNotFitTheSlotsIsATypedErrorAndBeamSearchStillRunsAlone()
    {
        await using var engine = new ContinuousBatchingEngine(_captioner, new EngineOptions { MaxBatch = 2, MaxSequenceLength = 12 });
        // The decoder's slot holds the start token + 11 new tokens; the encoder's the prompt's 12 positions.
        var tooMany = await Assert.ThrowsAsync<EngineSequenceTooLongException>(() => engine.GenerateAsync(Greedy(0) with { Options = new() { MaxNewTokens = 12 } }));
        Assert.Equal((1, 12, 12), (tooMany.PromptPositions, tooMany.MaxNewTokens, tooMany.MaxSequenceLength));
        var longPrompt = Greedy(3) with { Options = new() { MaxNewTokens = 4 } };   // 6 image tokens + 10 pieces + EOS
        var tooLong = await Assert.ThrowsAsync<EngineSequenceTooLongException>(() => engine.GenerateAsync(longPrompt));
        Assert.Equal(_captioner.PromptPositions(longPrompt.Prompt), tooLong.PromptPositions);
        Assert.True(tooLong.PromptPositions > 12);
        // Beam search decodes alone on the side lane, in a cache of its own: the rows' bound is not its.
        var beams = longPrompt with { Options = new() { MaxNewTokens = 14, NumBeams = 2 } };
        AssertLikeLoneCalls([beams], [await engine.GenerateAsync(beams)]);
        var fits = Greedy(4) with { Options = new() { MaxNewTokens = 11, MinNewTokens = 11 } };
        AssertLikeLoneCalls([fits], [await engine.GenerateAsync(fits)]);
        Assert.Equal(2, engine.Statistics.FailedRequests);
    }

    [Fact]
    public async Task CancellingAT5RowFreesItsSlotForTheNextRequest()
    {
        await using var engine = new ContinuousBatchingEngine(_captioner, new EngineOptions { MaxBatch = 1 });
        using var leave = new CancellationTokenSource();
        using var streaming = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        // A reader that holds the loop at its first text holds the one slot, however slow the machine (a reader sleeping
        // 5 ms a token was once read to its end before a loaded CI machine ran the cancel below); the next request
        // waits until it is cancelled, then takes its slot.
        var held = engine.GenerateAsync(Greedy(1) with
        {
            Options = new() { MaxNewTokens = 60, MinNewTokens = 60 },
            OnText = (_, _) => { streaming.Set(); gate.Wait(); },
        }, leave.Token);
        Assert.True(streaming.Wait(TimeSpan.FromSeconds(60)));
        var next = Greedy(2) with { Options = new() { MaxNewTokens = 18, MinNewTokens = 18 } };
        var waiting = engine.GenerateAsync(next);
        Assert.Equal(1, engine.Statistics.QueueDepth);
        leave.Cancel();
        gate.Set();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held);
        AssertLikeLoneCalls([next], [await waiting]);
        Assert.Equal(1, engine.Statistics.CancelledRequests);
        Assert.Equal(0, engine.Statistics.RunningRows);
    }
}
