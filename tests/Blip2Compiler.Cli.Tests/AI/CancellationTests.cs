using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.Tests.AI;

/// <summary>
/// The captioner's and the chat client's cancellation tokens, counted in decoding steps
/// (<see cref="GenerationOptions.OnStep"/> from the captioner's defaults): a token cancelled during step k ends the
/// call with no step after k, greedy or beam search, plain or streamed; one already cancelled is refused before the
/// image is decoded; the same client then answers in full.
/// </summary>
public class CancellationTests(TinyModels models) : IClassFixture<TinyModels>
{
    private const int CancelAt = 3;

    private static ChatMessage UserTurn(byte[] image) => new(ChatRole.User, [new DataContent(image, "image/png")]);

    // 40 tokens with EOS held back: the answer would take 40 steps.
    private static ChatOptions Long(int beams) => new()
    {
        MaxOutputTokens = 40,
        AdditionalProperties = new() { ["num_beams"] = beams, ["min_new_tokens"] = 40 },
    };

    /// <summary>A captioner over the tiny model that reports its steps, and cancels <paramref name="leave"/> at <see cref="CancelAt"/>.</summary>
    private Blip2Captioner Watched(CancellationTokenSource leave, List<int> steps) =>
        new(models.Opt, models.Captioner.Images, models.Captioner.Tokenizer, new GenerationOptions
        {
            OnStep = n =>
            {
                steps.Add(n);
                if (n == CancelAt) leave.Cancel();
            },
        });

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task ACancelledResponseStopsBeforeItsNextStep(int beams)
    {
        using var leave = new CancellationTokenSource();
        var steps = new List<int>();
        using var client = new Blip2ChatClient(Watched(leave, steps));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync([UserTurn(TinyModels.PhotoBytes)], Long(beams), leave.Token));
        Assert.Equal(Enumerable.Range(1, CancelAt), steps);

        // The model is left as it was: the next call answers in full, as the plain captioner does.
        steps.Clear();
        var whole = await client.GetResponseAsync([UserTurn(TinyModels.PhotoBytes)], new ChatOptions { MaxOutputTokens = 6, AdditionalProperties = new() { ["num_beams"] = beams } });
        var expected = models.Captioner.Caption([ImageSource.FromBytes(TinyModels.PhotoBytes)], options: new GenerationOptions { MaxNewTokens = 6, NumBeams = beams });
        Assert.Equal(expected[0], whole.Text);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task ACancelledStreamStopsBeforeItsNextStep(int beams)
    {
        using var leave = new CancellationTokenSource();
        var steps = new List<int>();
        using var client = new Blip2ChatClient(Watched(leave, steps));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync([UserTurn(TinyModels.PhotoBytes)], Long(beams), leave.Token)) { }
        });
        // The worker has ended (the stream waits for it): no step after the one that cancelled.
        Assert.Equal(Enumerable.Range(1, CancelAt), steps);
    }

    [Fact]
    public async Task ATokenAlreadyCancelledIsRefusedBeforeTheImageIsDecoded()
    {
        // Bytes no decoder reads: refused as cancelled, not as an undecodable image, so nothing was decoded.
        var junk = "not a PNG at all"u8.ToArray();
        var cancelled = new CancellationToken(true);
        Assert.ThrowsAny<OperationCanceledException>(() => models.Captioner.Caption([ImageSource.FromBytes(junk)], cancellationToken: cancelled));
        Assert.ThrowsAny<OperationCanceledException>(() => models.Captioner.Generate(ImageSource.FromBytes(junk), null, cancellationToken: cancelled));
        Assert.ThrowsAny<OperationCanceledException>(() => models.Captioner.CaptionStreaming(ImageSource.FromBytes(junk), null, null, _ => { }, cancelled));
        using var client = new Blip2ChatClient(models.Captioner);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync([UserTurn(junk)], null, cancelled));
        // Without the token the same call is an image error.
        Assert.ThrowsAny<ImageDecodeException>(() => models.Captioner.Caption([ImageSource.FromBytes(junk)]));
    }
}
