using Blip2Compiler.Generation;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Tests.Serving;

/// <summary>
/// The continuous-batching engine against lone <c>Generate</c> / <c>Caption</c> calls on the tiny OPT checkpoint:
/// requests that run side by side, join mid-run and leave early get exactly the tokens and text they get alone.
/// </summary>
// In the memory-soak collection: its 2,000-request test reads the process working set (288 → 377 MB once, with a
// model-loading neighbour running beside it in CI).
[Collection(MemorySoak.Name)]
public class ContinuousBatchingEngineTests(ServingModels models) : IClassFixture<ServingModels>
{
    private static readonly string?[] Prompts = [null, "a photo of", "Question: what is in the picture? Answer:", "an", "the colors of this image are"];

    private static EngineRequest Greedy(int i) => new()
    {
        Image = ServingModels.Image(i),
        Prompt = Prompts[i % Prompts.Length],
        Options = new GenerationOptions { MaxNewTokens = 3 + (i * 7) % 17 },
    };

    private async Task AssertLikeLoneCalls(ContinuousBatchingEngine engine, IReadOnlyList<EngineRequest> requests, IReadOnlyList<Task<EngineCompletion>> tasks)
    {
        var completions = await Task.WhenAll(tasks);
        for (var i = 0; i < requests.Count; i++)
        {
            var lone = models.LoneTokens(requests[i]);
            Assert.Equal(lone.Length, completions[i].Sequences.Count);
            for (var r = 0; r < lone.Length; r++)
                Assert.True(lone[r].SequenceEqual(completions[i].Sequences[r].Tokens),
                    $"request {i} row {r}: engine [{string.Join(' ', completions[i].Sequences[r].Tokens)}], lone [{string.Join(' ', lone[r])}]");
        }
        Assert.Equal(0, engine.Statistics.RunningRows);
    }

    [Fact]
    public async Task ConcurrentGreedyRequestsJoiningMidRunGiveTheTokensAndTextOfLoneCalls()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 4, MaxQueue = 32 });
        var requests = Enumerable.Range(0, 12).Select(Greedy).ToList();
        // The first request holds the loop at its first streamed text until two more wait, so they join it mid-run
        // however fast the machine is; the rest arrive while those decode and join when rows free up.
        using var streaming = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        requests[0] = requests[0] with { Options = new() { MaxNewTokens = 19 }, OnText = (_, _) => { streaming.Set(); gate.Wait(); } };
        var tasks = new List<Task<EngineCompletion>> { engine.GenerateAsync(requests[0]) };
        streaming.Wait(TimeSpan.FromSeconds(30));
        tasks.AddRange(requests.Skip(1).Take(2).Select(r => engine.GenerateAsync(r)));
        gate.Set();
        var steps = engine.Statistics.DecodingSteps;
        while (engine.Statistics.DecodingSteps < steps + 2) await Task.Delay(1);
        tasks.AddRange(requests.Skip(3).Select(r => engine.GenerateAsync(r)));
        await AssertLikeLoneCalls(engine, requests, tasks);

        var completions = await Task.WhenAll(tasks);
        for (var i = 0; i < requests.Count; i++)
        {
            var caption = models.Captioner.Caption([requests[i].Image], [requests[i].Prompt], requests[i].Options)[0];
            Assert.Equal(caption, completions[i].Sequences[0].Text);
            var sequence = completions[i].Sequences[0];
            Assert.Equal(sequence.Tokens.Count < requests[i].Options!.MaxNewTokens ? FinishReason.Stop : FinishReason.Length, sequence.FinishReason);
            Assert.Equal(sequence.Tokens.Count, completions[i].CompletionTokens);
        }
        var stats = engine.Statistics;
        Assert.Equal(requests.Count, stats.CompletedRequests);
        Assert.Equal(completions.Sum(c => c.CompletionTokens), stats.GeneratedTokens);
        // Batched: fewer steps than the requests' tokens one after another.
        Assert.True(stats.DecodingSteps < stats.GeneratedTokens - requests.Count, $"{stats.DecodingSteps} steps for {stats.GeneratedTokens} tokens");
    }

    [Fact]
    public async Task SeededSamplingProcessorsAndSeveralSequencesGiveTheLoneTokensWhateverRunsBeside()
    {
        EngineRequest[] special =
        [
            new() { Image = ServingModels.Image(1), Prompt = "a photo of", Options = new() { MaxNewTokens = 9, DoSample = true, Seed = 11, TopK = 5, TopP = 0.9, Temperature = 0.8 } },
            new() { Image = ServingModels.Image(2), Options = new() { MaxNewTokens = 8, DoSample = true, Seed = 5, NumReturnSequences = 3 } },
            new() { Image = ServingModels.Image(3), Prompt = "an", Options = new() { MaxNewTokens = 10, RepetitionPenalty = 1.5, MinNewTokens = 6, NoRepeatNgramSize = 2 } },
            new() { Image = ServingModels.Image(4), Options = new() { MaxNewTokens = 7, NumBeams = 3, NumReturnSequences = 2 } },
        ];
        for (var round = 0; round < 2; round++)
        {
            await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 6 });
            // Other traffic, different each round: greedy rows and unseeded sampling around the seeded ones.
            var traffic = Enumerable.Range(round * 5, 5 + round * 3).Select(i => i % 2 == 0 ? Greedy(i)
                : Greedy(i) with { Options = new() { MaxNewTokens = 6 + i % 5, DoSample = true, TopP = 0.8 } }).ToList();
            var requests = round == 0 ? [.. special, .. traffic] : traffic.Take(3).Concat(special).Concat(traffic.Skip(3)).ToList();
            var tasks = requests.Select(r => engine.GenerateAsync(r)).ToList();
            var completions = await Task.WhenAll(tasks);
            foreach (var request in special)
            {
                var lone = models.LoneTokens(request);
                var got = completions[requests.IndexOf(request)];
                Assert.Equal(lone.Length, got.Sequences.Count);
                for (var r = 0; r < lone.Length; r++)
                    Assert.True(lone[r].SequenceEqual(got.Sequences[r].Tokens),
                        $"round {round}, {request.Options}: row {r} engine [{string.Join(' ', got.Sequences[r].Tokens)}], lone [{string.Join(' ', lone[r])}]");
            }
        }
    }

    [Fact]
    public async Task CancellingARequestFreesItsRowAtTheNextStep()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 2 });
        using var leave = new CancellationTokenSource();
        using var bStreaming = new ManualResetEventSlim();
        using var aQueued = new ManualResetEventSlim();
        using var bothRunning = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var longA = Greedy(0) with { Options = new() { MaxNewTokens = 55, MinNewTokens = 55 } };
        // B holds the loop (its streaming callback waits) at its first text until A is queued, and again once A is
        // running until the test has queued C and cancelled B: so B is running when A joins and when it is cancelled,
        // however slow the machine (a reader sleeping 5 ms a token could be read to its end by a starved test thread).
        var longB = Greedy(1) with
        {
            Options = new() { MaxNewTokens = 55, MinNewTokens = 55 },
            OnText = (_, _) =>
            {
                bStreaming.Set();
                aQueued.Wait();
                if (engine.Statistics.RunningRows == 2 && !bothRunning.IsSet)
                {
                    bothRunning.Set();
                    release.Wait();
                }
            },
        };
        var shortC = Greedy(2) with { Options = new() { MaxNewTokens = 3 } };
        var b = engine.GenerateAsync(longB, leave.Token);
        Task<EngineCompletion> a, c;
        try
        {
            Assert.True(bStreaming.Wait(TimeSpan.FromSeconds(60)), "B never streamed");
            a = engine.GenerateAsync(longA);
            aQueued.Set();
            Assert.True(bothRunning.Wait(TimeSpan.FromSeconds(60)), "A never joined B");
            c = engine.GenerateAsync(shortC);   // waits: both rows are taken
            Assert.Equal(1, engine.Statistics.QueueDepth);
            leave.Cancel();
        }
        finally
        {
            // Whatever failed above, the loop is let go, so the engine can stop.
            aQueued.Set();
            release.Set();
        }
        // C takes B's row at once and finishes in a few steps while A still has more than 30 tokens to go.
        await c;
        Assert.False(a.IsCompleted, "the long request finished before the one that took the cancelled row");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b);
        Assert.True(b.IsCanceled);
        await a;
        Assert.Equal(models.LoneTokens(longA)[0], (await a).Sequences[0].Tokens);
        Assert.Equal(models.LoneTokens(shortC)[0], (await c).Sequences[0].Tokens);
        Assert.Equal(1, engine.Statistics.CancelledRequests);
    }

    // EOS suppressed for all its tokens: run to its end, the search takes 60 steps.
    private static EngineRequest LongBeamSearch(int i) => Greedy(i) with { Options = new() { MaxNewTokens = 60, MinNewTokens = 60, NumBeams = 4 } };

    [Fact]
    public async Task ACancelledBeamSearchFreesTheLaneWithinAStepAndTheNextRequestRuns()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 2 });
        var next = Greedy(1) with { Options = new() { MaxNewTokens = 7, NumBeams = 3, NumReturnSequences = 2 } };
        // The next request alone first: its own steps, so the engine's step counter tells the cancelled one's apart.
        await engine.GenerateAsync(next);
        var nextSteps = engine.Statistics.DecodingSteps;
        Assert.True(nextSteps > 0, "beam search steps are counted");

        using var leave = new CancellationTokenSource();
        var cancelled = engine.GenerateAsync(LongBeamSearch(0), leave.Token);
        var queued = engine.GenerateAsync(next);   // waits for the lane
        while (engine.Statistics.DecodingSteps < nextSteps + 3 && !cancelled.IsCompleted) await Task.Delay(1);
        var stepsBeforeLeaving = engine.Statistics.DecodingSteps - nextSteps;
        leave.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.True(cancelled.IsCanceled);
        var completion = await queued;

        // The step in flight when the caller left, and none after it (one more allowed for the counter read racing
        // the step that was ending): 60 had the search run to its end.
        var stepsRun = engine.Statistics.DecodingSteps - 2 * nextSteps;
        Assert.InRange(stepsRun - stepsBeforeLeaving, 0, 2);
        var lone = models.LoneTokens(next);
        Assert.Equal(lone.Length, completion.Sequences.Count);
        for (var r = 0; r < lone.Length; r++) Assert.Equal(lone[r], completion.Sequences[r].Tokens);
        var stats = engine.Statistics;
        Assert.Equal((0, 1L, 2L), (stats.RunningRows, stats.CancelledRequests, stats.CompletedRequests));
    }

    [Fact]
    public async Task DrainOutOfTimeEndsARunningBeamSearchAtItsNextStep()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 2 });
        var running = engine.GenerateAsync(LongBeamSearch(2));
        while (engine.Statistics.DecodingSteps < 3 && !running.IsCompleted) await Task.Delay(1);
        var stepsBeforeDrain = engine.Statistics.DecodingSteps;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.DrainAsync(new CancellationToken(true)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.InRange(engine.Statistics.DecodingSteps - stepsBeforeDrain, 0, 2);
        Assert.Equal(0, engine.Statistics.RunningRows);
    }

    [Fact]
    public async Task APassedDeadlineCancelsTheRequest()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 2 });
        var expired = engine.GenerateAsync(Greedy(0) with { Deadline = DateTimeOffset.UtcNow.AddSeconds(-1) });
        // A slow reader (its streaming callback sleeps) runs past a deadline it had when it started.
        var slow = engine.GenerateAsync(Greedy(1) with
        {
            Options = new() { MaxNewTokens = 60, MinNewTokens = 60 },
            Deadline = DateTimeOffset.UtcNow.AddMilliseconds(100),
            OnText = (_, _) => Thread.Sleep(10),
        });
        var fine = engine.GenerateAsync(Greedy(2));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => expired);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
        Assert.Equal(models.LoneTokens(Greedy(2))[0], (await fine).Sequences[0].Tokens);
    }

    [Fact]
    public async Task AWaitingRequestWhoseCallerLeavesOrWhoseDeadlinePassesEndsAtOnce()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 1 });
        // The one row is held by a request whose streaming callback waits for the test's word, so the loop runs no
        // step while the others wait: they must end without the loop reaching them.
        using var streaming = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = engine.GenerateAsync(Greedy(0) with
        {
            Options = new() { MaxNewTokens = 5, MinNewTokens = 5 },
            OnText = (_, _) => { streaming.Set(); release.Wait(); },
        });
        Task<EngineCompletion> stays;
        try
        {
            Assert.True(streaming.Wait(TimeSpan.FromSeconds(60)));
            using var leave = new CancellationTokenSource();
            var left = engine.GenerateAsync(Greedy(2), leave.Token);
            var timedOut = engine.GenerateAsync(Greedy(3) with { Deadline = DateTimeOffset.UtcNow.AddSeconds(1) });
            stays = engine.GenerateAsync(Greedy(5));
            Assert.Equal(3, engine.Statistics.QueueDepth);
            leave.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => left).WaitAsync(TimeSpan.FromSeconds(30));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => timedOut).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, engine.Statistics.QueueDepth);
            Assert.Equal(2, engine.Statistics.CancelledRequests);
            Assert.False(holder.IsCompleted || stays.IsCompleted);
        }
        finally
        {
            release.Set();   // never leave the loop held: the engine's dispose waits for it
        }
        await AssertLikeLoneCalls(engine, [Greedy(5)], [stays]);
        await holder;
        Assert.Equal(2, engine.Statistics.CompletedRequests);
    }

    [Fact]
    public async Task AFullQueueRejectsWithATypedErrorAndTheOthersComplete()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 1, MaxQueue = 2 });
        // The one row is held: its request's streaming callback waits until the others are sent.
        using var streaming = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = engine.GenerateAsync(Greedy(0) with
        {
            Options = new() { MaxNewTokens = 20, MinNewTokens = 20 },
            OnText = (_, _) => { streaming.Set(); release.Wait(); },
        });
        Assert.True(streaming.Wait(TimeSpan.FromSeconds(60)));
        var tasks = Enumerable.Range(1, 5).Select(i => engine.GenerateAsync(Greedy(i))).ToList();
        Assert.Equal(2, engine.Statistics.QueueDepth);
        release.Set();
        await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { })));
        var rejected = tasks.Skip(2).Select(t => Assert.IsType<EngineQueueFullException>(t.Exception!.InnerException)).ToList();
        Assert.All(rejected, e => Assert.Equal(2, e.MaxQueue));
        Assert.Equal(3, engine.Statistics.RejectedRequests);
        await holder;
        await AssertLikeLoneCalls(engine, [Greedy(1), Greedy(2)], tasks.Take(2).ToList());
        // The queue has room again.
        Assert.NotEmpty((await engine.GenerateAsync(Greedy(7))).Sequences);
    }

    [Fact]
    public async Task DrainFinishesWhatIsQueuedAndRunningThenRefusesNewRequests()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 2 });
        var tasks = Enumerable.Range(0, 5).Select(i => engine.GenerateAsync(Greedy(i))).ToList();
        await engine.DrainAsync();
        Assert.All(tasks, t => Assert.True(t.IsCompletedSuccessfully));
        await Assert.ThrowsAsync<EngineStoppedException>(() => engine.GenerateAsync(Greedy(0)));
        Assert.Equal(5, engine.Statistics.CompletedRequests);
    }

    [Fact]
    public async Task DrainOutOfTimeCancelsWhatIsLeft()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 1 });
        // Slow readers (their streaming callbacks sleep): four of them take far longer than the drain may wait.
        var tasks = Enumerable.Range(0, 4).Select(i => engine.GenerateAsync(Greedy(i) with
        {
            Options = new() { MaxNewTokens = 50, MinNewTokens = 50 },
            OnText = (_, _) => Thread.Sleep(5),
        })).ToList();
        using var noTime = new CancellationTokenSource(TimeSpan.FromMilliseconds(20));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.DrainAsync(noTime.Token));
        await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { })));
        Assert.Contains(tasks, t => t.IsCanceled);
        Assert.All(tasks, t => Assert.True(t.IsCanceled || t.IsCompletedSuccessfully));
        Assert.Equal(0, engine.Statistics.RunningRows);
    }

    [Fact]
    public async Task ABadRequestFaultsOnlyItsOwnTask()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 4 });
        var good = Enumerable.Range(0, 4).Select(Greedy).ToList();
        var goodTasks = good.Select(r => engine.GenerateAsync(r)).ToList();
        var undecodable = engine.GenerateAsync(new EngineRequest { Image = Processing.ImageSource.FromBytes(new byte[] { 0x89, 0x50, 0x4e, 0x47, 1, 2, 3 }) });
        var badOption = engine.GenerateAsync(Greedy(5) with { Options = new() { DoSample = true, Temperature = -1 } });
        var tooLong = engine.GenerateAsync(Greedy(6) with { Options = new() { MaxNewTokens = 1000 } });
        var throwingCallback = engine.GenerateAsync(Greedy(7) with { OnText = (_, _) => throw new InvalidOperationException("client gone") });

        await Assert.ThrowsAsync<Processing.ImageDecodeException>(() => undecodable);
        Assert.Equal("temperature", (await Assert.ThrowsAsync<InvalidGenerationOptionException>(() => badOption)).Option);
        var positions = await Assert.ThrowsAsync<PromptTooLongException>(() => tooLong);
        Assert.Equal((int)models.Opt.ModelInfo.MaxPositions, positions.ModelPositions);
        Assert.IsType<InvalidOperationException>((await Assert.ThrowsAsync<Blip2Exception>(() => throwingCallback)).InnerException);
        await AssertLikeLoneCalls(engine, good, goodTasks);
        Assert.Equal(4, engine.Statistics.FailedRequests);
    }

    [Fact]
    public async Task StopSequencesCutTheTextAcrossTokensAndEndTheRow()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner);
        var plain = Greedy(3) with { Options = new() { MaxNewTokens = 20, MinNewTokens = 20 } };
        var full = (await engine.GenerateAsync(plain)).Sequences[0];
        Assert.True(full.Text.Length > 12, full.Text);
        // A stop text from the middle of the caption, three characters wide: it may span tokens.
        var stop = full.Text.Substring(full.Text.Length / 2, 3);
        var pieces = new List<string>();
        var cut = (await engine.GenerateAsync(plain with { Stop = [stop, "never appears"], OnText = (_, piece) => pieces.Add(piece) })).Sequences[0];
        Assert.Equal(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)].Trim(), cut.Text);
        Assert.Equal(FinishReason.Stop, cut.FinishReason);
        Assert.True(cut.Tokens.Count < full.Tokens.Count);
        Assert.Equal(full.Tokens.Take(cut.Tokens.Count), cut.Tokens);
        Assert.Equal(cut.Text, string.Concat(pieces));
    }

    [Fact]
    public async Task StreamedPiecesMakeTheFinalTextOfEverySequence()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner);
        var pieces = new System.Collections.Concurrent.ConcurrentDictionary<int, string>();
        var request = Greedy(2) with
        {
            Options = new() { MaxNewTokens = 15, DoSample = true, Seed = 3, NumReturnSequences = 2 },
            OnText = (row, piece) => pieces.AddOrUpdate(row, piece, (_, text) => text + piece),
        };
        var completion = await engine.GenerateAsync(request);
        for (var r = 0; r < 2; r++) Assert.Equal(completion.Sequences[r].Text, pieces.GetValueOrDefault(r, ""));
        Assert.True(pieces.Count > 0);
    }

    [Fact]
    public async Task TwoThousandShortRequestsLeaveNoRowsTensorsOrMemoryBehind()
    {
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 8, MaxQueue = 64 });
        // A small image: the requests' cost is the engine's, not the image decoder's.
        var image = Processing.ImageSource.FromBytes(File.ReadAllBytes(Path.Combine(Fixtures.Golden("image-processor"), "small.png")));
        async Task Run(int count)
        {
            // 16 closed-loop callers, each with short requests one after another.
            await Task.WhenAll(Enumerable.Range(0, 16).Select(async caller =>
            {
                for (var i = caller; i < count; i += 16)
                    await engine.GenerateAsync(new EngineRequest { Image = image, Prompt = Prompts[i % Prompts.Length], Options = new() { MaxNewTokens = 1 + i % 3 } });
            }));
        }
        await Run(200);   // warm: caches, pools, the allocator's working set
        static (long Tensors, long Bytes) Live()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            return (TorchSharp.torch.Tensor.TotalCount, self.WorkingSet64);
        }
        var before = Live();
        await Run(2000);
        var after = Live();
        var stats = engine.Statistics;
        Assert.Equal(2200, stats.CompletedRequests);
        Assert.Equal(0, stats.RunningRows);
        Assert.Equal(0, stats.QueueDepth);
        // One tensor kept per request would be 2000; the count is approximate (not thread-safe in TorchSharp).
        Assert.True(after.Tensors - before.Tensors < 100, $"live tensors {before.Tensors} → {after.Tensors}");
        Assert.True(after.Bytes - before.Bytes < 64L << 20, $"working set {before.Bytes >> 20} MB → {after.Bytes >> 20} MB");
    }
}
