using Blip2Compiler.AI;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.Tests.AI;

/// <summary>Blip2ChatClient through the IChatClient abstraction.</summary>
public class ChatClientTests(TinyModels models) : IClassFixture<TinyModels>
{
    private IChatClient Client() => new Blip2ChatClient(models.Captioner);

    private static ChatMessage UserTurn(string? text) =>
        new(ChatRole.User, [new DataContent(TinyModels.PhotoBytes, "image/png"), .. text is null ? Array.Empty<AIContent>() : [new TextContent(text)]]);

    [Fact]
    public async Task CaptionsAnImageWithoutText()
    {
        using var client = Client();
        var response = await client.GetResponseAsync([UserTurn(null)]);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.False(string.IsNullOrWhiteSpace(response.Text));
        Assert.Equal("blip2-tiny-opt", response.ModelId);
    }

    [Fact]
    public async Task AnswersLikeTheCaptionerWithTheQuestionPrompt()
    {
        using var client = Client();
        var response = await client.GetResponseAsync([UserTurn("what is she holding?")], new ChatOptions { MaxOutputTokens = 5 });
        var expected = models.Captioner.Caption(
            [Processing.ImageSource.FromBytes(TinyModels.PhotoBytes)], ["Question: what is she holding? Answer:"], new Generation.GenerationOptions { MaxNewTokens = 5 });
        Assert.Equal(expected[0], response.Text);
    }

    [Fact]
    public async Task StreamingGivesTheSameText()
    {
        using var client = Client();
        var options = new ChatOptions { MaxOutputTokens = 6 };
        var whole = await client.GetResponseAsync([UserTurn(null)], options);
        var updates = await client.GetStreamingResponseAsync([UserTurn(null)], options).ToListAsync();
        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        // Tokens arrive as they are decoded: several pieces, then the finish reason.
        Assert.True(updates.Count(u => u.Text.Length > 0) > 1, $"one update only: '{whole.Text}'");
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
    }

    [Fact]
    public async Task SamplingWithASeedRepeats()
    {
        using var client = Client();
        var options = new ChatOptions { Temperature = 1.0f, TopP = 0.95f, Seed = 11, MaxOutputTokens = 6 };
        var first = await client.GetResponseAsync([UserTurn(null)], options);
        var second = await client.GetResponseAsync([UserTurn(null)], options);
        Assert.Equal(first.Text, second.Text);
    }

    [Fact]
    public async Task WithoutAnImageItSaysSo()
    {
        using var client = Client();
        var error = await Assert.ThrowsAnyAsync<Blip2Exception>(() => client.GetResponseAsync("hello"));
        Assert.Contains("image", error.Message);
    }

    [Fact]
    public void ChatOptionsMapToGenerationOptions()
    {
        var sampled = Blip2ChatClient.ToGenerationOptions(new ChatOptions
        {
            MaxOutputTokens = 7, Temperature = 0.5f, TopP = 0.9f, TopK = 20, Seed = 3,
            AdditionalProperties = new() { ["num_beams"] = 2, ["repetition_penalty"] = 1.3 },
        });
        Assert.Equal(7, sampled.MaxNewTokens);
        Assert.True(sampled.DoSample);
        Assert.Equal(0.5, sampled.Temperature!.Value, 6);
        Assert.Equal(0.9, sampled.TopP!.Value, 6);
        Assert.Equal(20, sampled.TopK);
        Assert.Equal(3, sampled.Seed);
        Assert.Equal(2, sampled.NumBeams);
        Assert.Equal(1.3, sampled.RepetitionPenalty);

        var greedy = Blip2ChatClient.ToGenerationOptions(new ChatOptions { Temperature = 0 });
        Assert.False(greedy.DoSample);
        Assert.Null(greedy.Temperature);
    }

    [Fact]
    public void DescribesItself()
    {
        using var client = Client();
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal("blip2-tiny-opt", metadata.DefaultModelId);
        Assert.Same(models.Captioner, client.GetService<Blip2Captioner>());
    }
}
