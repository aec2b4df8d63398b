using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.Tests.AI;

/// <summary>
/// Issue 12's first crash, through the high-level APIs: a prompt plus new tokens beyond the tiny OPT's 128 positions
/// is a <see cref="PromptTooLongException"/> naming the numbers, raised before any image is decoded.
/// </summary>
public class GenerationLimitTests(TinyModels models) : IClassFixture<TinyModels>
{
    // 55 words: about twice the positions the tiny OPT has left after its 6 image tokens, BOS and 20 new tokens.
    private static readonly string LongQuestion = string.Join(' ', Enumerable.Repeat("what is the astronaut holding in her left hand", 6)) + " now";

    [Fact]
    public void CaptionWithTooManyNewTokensNamesTheNumbers()
    {
        var error = Assert.Throws<PromptTooLongException>(() =>
            models.Captioner.Caption([ImageSource.FromFile(Blip2Compiler.Tests.CommandLine.CliRun.Photo)], options: new GenerationOptions { MaxNewTokens = 1000 }));
        Assert.Equal(7, error.PromptPositions);            // 6 image tokens + BOS
        Assert.Equal(1000, error.MaxNewTokens);
        Assert.Equal(128, error.ModelPositions);
        Assert.Contains("at most 122 new tokens", error.Message);
    }

    [Fact]
    public void TheCheckComesBeforeTheImagesAreDecoded()
    {
        // Not an image at all: decoding it would fail. The run is refused first.
        var junk = ImageSource.FromBytes(new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3 }, "junk.png");
        Assert.Throws<PromptTooLongException>(() => models.Captioner.Caption([junk], options: new GenerationOptions { MaxNewTokens = 1000 }));
        Assert.Throws<DecodingTooLargeException>(() => models.Captioner.Caption([junk], options: new GenerationOptions { NumBeams = 100_000 }));
        Assert.Throws<ImageDecodeException>(() => models.Captioner.Caption([junk], options: new GenerationOptions { MaxNewTokens = 2 }));
    }

    [Fact]
    public async Task ALongQuestionAtTheDefaultOptionsIsATypedErrorFromTheChatClient()
    {
        Assert.Equal(55, LongQuestion.Split(' ').Length);
        using var client = new Blip2ChatClient(models.Captioner);
        ChatMessage[] turn = [new(ChatRole.User, [new DataContent(TinyModels.PhotoBytes, "image/png"), new TextContent(LongQuestion)])];
        var error = await Assert.ThrowsAsync<PromptTooLongException>(() => client.GetResponseAsync(turn));
        Assert.True(error.PromptPositions > 60, error.Message);
        await Assert.ThrowsAsync<PromptTooLongException>(async () => await client.GetStreamingResponseAsync(turn).ToListAsync());
        Assert.Throws<PromptTooLongException>(() => models.Captioner.CaptionStreaming(ImageSource.FromBytes(TinyModels.PhotoBytes), Blip2Captioner.QuestionPrompt(LongQuestion), null, _ => { }));
    }
}
