using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

/// <summary>
/// Cancellation between decoding steps, for every search the loop runs (greedy, sampling, beam search, beam sampling,
/// group beam search), counted in model forwards: a run whose token is cancelled during step k makes no forward
/// after it, ends with <see cref="OperationCanceledException"/> and disposes its session (the KV cache); a token
/// already cancelled opens no session at all. Steps are reported through <see cref="GenerationOptions.OnStep"/>, beam
/// search's included.
/// </summary>
public class CancellationTests
{
    private const int NewTokens = 12;

    // No EOS and no stop strings: every search runs its NewTokens steps unless it is cancelled.
    public static TheoryData<string> Searches() => ["greedy", "sampling", "beam", "beam sampling", "group beam"];

    private static GenerationOptions Options(string search) => search switch
    {
        "greedy" => new() { MaxNewTokens = NewTokens },
        "sampling" => new() { MaxNewTokens = NewTokens, DoSample = true, Seed = 3 },
        "beam" => new() { MaxNewTokens = NewTokens, NumBeams = 3 },
        "beam sampling" => new() { MaxNewTokens = NewTokens, NumBeams = 3, DoSample = true, Seed = 5 },
        "group beam" => new() { MaxNewTokens = NewTokens, NumBeams = 4, NumBeamGroups = 2, DiversityPenalty = 0.5 },
        _ => throw new ArgumentOutOfRangeException(nameof(search)),
    };

    [Theory]
    [MemberData(nameof(Searches))]
    public void EveryStepIsReportedInOrder(string search)
    {
        var watched = new Watched(TrigramModel.Random(7, seed: 2));
        var steps = new List<int>();
        var context = Reference.Context([1, 2], [3, 4]);
        var result = GenerationLoop.Generate(watched.Factory(context), context, Options(search) with { OnStep = steps.Add });
        Assert.Equal(Enumerable.Range(1, NewTokens), steps);
        Assert.All(result.NewTokens, row => Assert.Equal(NewTokens, row.Length));
        // The prompt's forward, then one per token fed back (the last token is not).
        Assert.Equal(NewTokens, watched.Forwards);
    }

    [Theory]
    [MemberData(nameof(Searches))]
    public void ATokenCancelledDuringAStepEndsTheRunBeforeTheNextForward(string search)
    {
        foreach (var at in new[] { 1, 4, NewTokens - 1 })
        {
            var watched = new Watched(TrigramModel.Random(7, seed: 2));
            using var leave = new CancellationTokenSource();
            var reported = 0;
            var options = Options(search) with
            {
                OnStep = n =>
                {
                    reported = n;
                    if (n == at) leave.Cancel();
                },
            };
            var context = Reference.Context([1, 2], [3, 4]);
            var e = Assert.ThrowsAny<OperationCanceledException>(() => GenerationLoop.Generate(watched.Factory(context), context, options, leave.Token));
            Assert.Equal(leave.Token, e.CancellationToken);
            Assert.Equal(at, reported);
            // The prompt's forward and the at − 1 steps that fed a token back; none after the cancelled step.
            Assert.Equal(at, watched.Forwards);
            Assert.Equal((1, 1), (watched.Opened, watched.Disposed));
        }
    }

    [Theory]
    [MemberData(nameof(Searches))]
    public void ATokenAlreadyCancelledOpensNoSession(string search)
    {
        var watched = new Watched(TrigramModel.Random(7, seed: 2));
        var context = Reference.Context([1, 2]);
        Assert.ThrowsAny<OperationCanceledException>(() => GenerationLoop.Generate(watched.Factory(context), context, Options(search), new CancellationToken(true)));
        Assert.Equal((0, 0), (watched.Opened, watched.Forwards));
    }

    [Fact]
    public void OptionsAreStillCheckedFirst()
    {
        // A bad option is the caller's mistake whatever the token says: it is reported as such, before anything runs.
        var watched = new Watched(TrigramModel.Random(7, seed: 2));
        var context = Reference.Context([1, 2]);
        Assert.Throws<InvalidGenerationOptionException>(() =>
            GenerationLoop.Generate(watched.Factory(context), context, new GenerationOptions { NumBeams = 0 }, new CancellationToken(true)));
        Assert.Equal(0, watched.Opened);
    }

    /// <summary>A model's sessions, watched: how many were opened and disposed, and the forwards they made.</summary>
    private sealed class Watched(TrigramModel model)
    {
        public int Opened, Disposed, Forwards;

        public DecoderFactory Factory(Tensor context)
        {
            var inner = model.Factory(context);
            return (rowsPerInput, maxNewTokens) =>
            {
                Opened++;
                return new Session(this, inner(rowsPerInput, maxNewTokens));
            };
        }

        private sealed class Session(Watched owner, IDecoderSession inner) : IDecoderSession
        {
            public long Rows => inner.Rows;

            public Tensor Next(Tensor? tokens)
            {
                owner.Forwards++;
                return inner.Next(tokens);
            }

            public void Reorder(Tensor rowIndex) => inner.Reorder(rowIndex);

            public void Dispose()
            {
                owner.Disposed++;
                inner.Dispose();
            }
        }
    }
}
