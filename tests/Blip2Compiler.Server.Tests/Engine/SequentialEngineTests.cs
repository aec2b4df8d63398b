using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Server.Tests.Engine;

/// <summary>
/// SequentialEngine against lone <c>Blip2Captioner</c> calls (its reference): the same texts, stop sequences cut as
/// OpenAI's <c>stop</c> does, streaming, a bounded queue, cancellation, deadlines and draining.
/// </summary>
public class SequentialEngineTests(TinyModels models) : IClassFixture<TinyModels>
{
    private static ImageSource Photo => ImageSource.FromBytes(TinyModels.Photo, "astronaut.png");

    private string Caption(string? prompt, GenerationOptions options) => models.Captioner.Caption([Photo], [prompt], options)[0];

    [Fact]
    public async Task AnswersEqualLoneCaptionCalls()
    {
        await using var engine = new SequentialEngine(models.Captioner);
        var cases = new (string? Prompt, GenerationOptions Options)[]
        {
            (null, new() { MaxNewTokens = 8 }),
            ("Question: what is it? Answer:", new() { MaxNewTokens = 6 }),
            (null, new() { MaxNewTokens = 6, NumBeams = 3 }),
            (null, new() { MaxNewTokens = 7, DoSample = true, Seed = 5, TopP = 0.9 }),
        };
        var answers = await Task.WhenAll(cases.Select(c => engine.GenerateAsync(new EngineRequest { Image = Photo, Prompt = c.Prompt, Options = c.Options })));
        for (var i = 0; i < cases.Length; i++)
        {
            Assert.Equal(Caption(cases[i].Prompt, cases[i].Options), answers[i].Sequences.Single().Text);
            Assert.Equal(models.Captioner.PromptPositions(cases[i].Prompt), answers[i].PromptTokens);
            Assert.Equal(answers[i].Sequences.Single().Tokens.Count, answers[i].CompletionTokens);
        }
        Assert.Equal(cases.Length, engine.Statistics.CompletedRequests);
    }

    [Fact]
    public async Task SeveralSampledSequencesAreTheGenerateRows()
    {
        await using var engine = new SequentialEngine(models.Captioner);
        var options = new GenerationOptions { MaxNewTokens = 6, DoSample = true, Seed = 3, NumReturnSequences = 3 };
        var answer = await engine.GenerateAsync(new EngineRequest { Image = Photo, Options = options });
        var expected = models.Captioner.Generate(Photo, null, options);
        var eos = models.Opt.ModelInfo.EosTokenId;
        Assert.Equal(3, answer.Sequences.Count);
        for (var r = 0; r < 3; r++)
            Assert.Equal(expected.NewTokens[r].TakeWhile(t => t != eos), answer.Sequences[r].Tokens);
    }

    [Fact]
    public async Task AStopSequenceCutsTheTextAcrossTokens()
    {
        await using var engine = new SequentialEngine(models.Captioner);
        var options = new GenerationOptions { MaxNewTokens = 12 };
        var full = Caption(null, options);
        Assert.True(full.Length > 8, $"caption too short for the test: '{full}'");
        // A stop text that starts inside one token and ends inside another.
        var stop = full.Substring(full.Length / 2 - 1, 3);
        var cut = full.IndexOf(stop, StringComparison.Ordinal);
        var streamed = new List<string>();
        var answer = await engine.GenerateAsync(new EngineRequest { Image = Photo, Options = options, Stop = [stop], OnText = (_, piece) => streamed.Add(piece) });
        var sequence = answer.Sequences.Single();
        Assert.Equal(full[..cut].TrimEnd(), sequence.Text);
        Assert.Equal(FinishReason.Stop, sequence.FinishReason);
        Assert.Equal(sequence.Text, string.Concat(streamed));
        Assert.DoesNotContain(stop, string.Concat(streamed));
    }

    [Fact]
    public async Task StreamedPiecesMakeTheText()
    {
        await using var engine = new SequentialEngine(models.Captioner);
        var pieces = new List<string>();
        var answer = await engine.GenerateAsync(new EngineRequest { Image = Photo, Options = new() { MaxNewTokens = 10 }, OnText = (_, p) => pieces.Add(p) });
        Assert.True(pieces.Count > 1, "text arrives as it is decoded");
        Assert.Equal(answer.Sequences.Single().Text, string.Concat(pieces));
        Assert.Equal(FinishReason.Length, answer.Sequences.Single().FinishReason);
    }

    [Fact]
    public async Task AFullQueueRefusesAndCancellingFreesTheEngine()
    {
        await using var engine = new SequentialEngine(models.Captioner, new EngineOptions { MaxQueue = 1 });
        using var gate = new ManualResetEventSlim(false);
        using var started = new ManualResetEventSlim(false);
        using var cancelRunning = new CancellationTokenSource();
        // The running request holds the worker in its streaming callback until the gate opens.
        var running = engine.GenerateAsync(new EngineRequest
        {
            Image = Photo, Options = new() { MaxNewTokens = 10 },
            OnText = (_, _) => { started.Set(); gate.Wait(); },
        }, cancelRunning.Token);
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
        using var cancelQueued = new CancellationTokenSource();
        var queued = engine.GenerateAsync(new EngineRequest { Image = Photo, Options = new() { MaxNewTokens = 3 } }, cancelQueued.Token);
        Assert.Equal(1, engine.Statistics.QueueDepth);
        Assert.Equal(1, engine.Statistics.RunningRows);
        var full = await Assert.ThrowsAsync<EngineQueueFullException>(() => engine.GenerateAsync(new EngineRequest { Image = Photo }));
        Assert.Equal(1, full.MaxQueue);

        cancelQueued.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        cancelRunning.Cancel();
        gate.Set();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);

        // The engine goes on.
        var next = await engine.GenerateAsync(new EngineRequest { Image = Photo, Options = new() { MaxNewTokens = 3 } });
        Assert.Equal(Caption(null, new() { MaxNewTokens = 3 }), next.Sequences.Single().Text);
        var stats = engine.Statistics;
        Assert.Equal((0, 0, 1L, 2L, 1L), (stats.QueueDepth, stats.RunningRows, stats.CompletedRequests, stats.CancelledRequests, stats.RejectedRequests));
    }

    [Fact]
    public async Task APassedDeadlineCancels()
    {
        await using var engine = new SequentialEngine(models.Captioner);
        var request = new EngineRequest { Image = Photo, Options = new() { MaxNewTokens = 10 }, Deadline = DateTimeOffset.UtcNow.AddSeconds(-1) };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.GenerateAsync(request));
        Assert.Equal(1, engine.Statistics.CancelledRequests);
    }

    [Fact]
    public async Task BadRequestsFailAloneWithTypedErrors()
    {
        await using var engine = new SequentialEngine(models.Captioner);
        await Assert.ThrowsAsync<InvalidGenerationOptionException>(() => engine.GenerateAsync(new EngineRequest { Image = Photo, Options = new() { TopP = 2 } }));
        await Assert.ThrowsAnyAsync<ImageDecodeException>(() => engine.GenerateAsync(new EngineRequest { Image = ImageSource.FromBytes(new byte[] { 1, 2, 3 }, "junk.png") }));
        var tooLong = await Assert.ThrowsAsync<PromptTooLongException>(() => engine.GenerateAsync(new EngineRequest
        {
            Image = Photo, Prompt = string.Join(" ", Enumerable.Repeat("word", 200)), Options = new() { MaxNewTokens = 5 },
        }));
        Assert.Equal((int)models.Opt.ModelInfo.MaxPositions, tooLong.ModelPositions);
        var fine = await engine.GenerateAsync(new EngineRequest { Image = Photo, Options = new() { MaxNewTokens = 2 } });
        Assert.NotNull(fine.Sequences.Single().Text);
        Assert.Equal(2, engine.Statistics.FailedRequests);
    }

    [Fact]
    public async Task DrainingFinishesQueuedWorkAndRefusesNewWork()
    {
        await using var engine = new SequentialEngine(models.Captioner);
        var queued = Enumerable.Range(0, 3).Select(_ => engine.GenerateAsync(new EngineRequest { Image = Photo, Options = new() { MaxNewTokens = 3 } })).ToList();
        await engine.DrainAsync();
        Assert.All(queued, t => Assert.True(t.IsCompletedSuccessfully));
        await Assert.ThrowsAsync<EngineStoppedException>(() => engine.GenerateAsync(new EngineRequest { Image = Photo }));
    }
}
