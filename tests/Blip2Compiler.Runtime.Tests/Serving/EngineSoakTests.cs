using System.Diagnostics;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Blip2Compiler.Serving;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Blip2Compiler.Tests.Serving;

/// <summary>
/// 2,000 requests through one continuous-batching engine on the tiny checkpoint (a few tokens each, greedy and seeded
/// sampling, some cancelled as they run): every one ends, no slot stays taken, and memory stays flat.
/// </summary>
[Collection(MemorySoak.Name)]
public class EngineSoakTests(ServingModels models) : IClassFixture<ServingModels>
{
    private const int Requests = 2000, Warmup = 200, InFlight = 24;

    [Fact]
    public async Task TwoThousandRequestsLeaveNoSlotOrMemoryBehind()
    {
        // Decoded and resized to the processor's 32 × 32 once: the test is about the engine, not JPEG decoding.
        using var decoded = new DisposableList<Image<Rgb24>>([.. Enumerable.Range(0, 8).Select(i =>
        {
            var image = Image.Load<Rgb24>(ServingModels.Image(i).Name);
            image.Mutate(m => m.Resize(32, 32));
            return image;
        })]);
        var images = decoded.Items.Select((image, i) => ImageSource.FromImage(image, $"image{i}")).ToArray();
        await using var engine = new ContinuousBatchingEngine(models.Captioner, new EngineOptions { MaxBatch = 8, MaxQueue = InFlight });
        long managed = 0, native = 0;
        var outcomes = new int[3];   // completed, cancelled, failed
        using var gate = new SemaphoreSlim(InFlight);
        var running = new List<Task>();
        for (var i = 0; i < Warmup + Requests; i++)
        {
            if (i == Warmup)
            {
                await Task.WhenAll(running);
                running.Clear();
                (managed, native) = Memory();
            }
            await gate.WaitAsync();
            var request = new EngineRequest
            {
                Image = images[i % images.Length],
                Prompt = i % 3 == 0 ? "a photo of" : null,
                Options = i % 4 == 1
                    ? new GenerationOptions { MaxNewTokens = 1 + i % 3, DoSample = true, Seed = i, TopP = 0.9 }
                    : new GenerationOptions { MaxNewTokens = 1 + i % 3, RepetitionPenalty = i % 5 == 0 ? 1.3 : null },
            };
            var cancel = i % 10 == 7 ? new CancellationTokenSource() : null;
            var task = engine.GenerateAsync(request, cancel?.Token ?? default);
            cancel?.Cancel();
            running.Add(task.ContinueWith(t =>
            {
                Interlocked.Increment(ref outcomes[t.IsCompletedSuccessfully ? 0 : t.IsCanceled ? 1 : 2]);
                cancel?.Dispose();
                gate.Release();
            }, TaskScheduler.Default));
        }
        await Task.WhenAll(running);

        var stats = engine.Statistics;
        Assert.Equal(0, outcomes[2]);
        Assert.Equal(Warmup + Requests, outcomes[0] + outcomes[1]);
        Assert.True(outcomes[1] > 0 && outcomes[1] <= (Warmup + Requests) / 10, $"{outcomes[1]} cancelled");
        Assert.Equal((0, 0, 0L, 0L), (stats.RunningRows, stats.QueueDepth, stats.FailedRequests, stats.RejectedRequests));
        Assert.Equal((long)outcomes[0], stats.CompletedRequests);
        Assert.Equal((long)outcomes[1], stats.CancelledRequests);

        // Bounds far below what a leak per request would take: one request's pixels (3 × 32 × 32 float32) alone are
        // 12 KB, its host state and text a few KB more; 2,000 of them leaked would pass both bounds many times over.
        var (managedAfter, nativeAfter) = Memory();
        Assert.True(managedAfter - managed < 4 << 20, $"managed memory grew {(managedAfter - managed) / 1024} KB over {Requests} requests");
        Assert.True(nativeAfter - native < 24 << 20, $"resident memory grew {(nativeAfter - native) / 1024} KB over {Requests} requests");
    }

    private sealed class DisposableList<T>(List<T> items) : IDisposable where T : IDisposable
    {
        public List<T> Items { get; } = items;
        public void Dispose() => Items.ForEach(i => i.Dispose());
    }

    private static (long Managed, long Resident) Memory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), process.WorkingSet64);
    }
}

/// <summary>Tests that measure the process's memory run alone: the working set is the whole test process's, and a
/// neighbour test loading a model beside the soak grew it by 64 MB in one full-suite run (the soak alone: flat).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemorySoak
{
    public const string Name = "memory soak (runs alone)";
}
