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
    public async Task AStopSequenceEndsTheAnswerAndIsCutFromIt()
    {
        using var client = Client();
        var unconstrained = new ChatOptions { MaxOutputTokens = 12 };
        // The pieces of an unconstrained stream are the decoded tokens: a stop text made of the end of one piece and
        // the start of the next spans a token boundary, and is one the tiny model really produces.
        var pieces = (await client.GetStreamingResponseAsync([UserTurn(null)], unconstrained).ToListAsync())
            .Select(u => u.Text).Where(t => t.Length > 0).ToList();
        var full = string.Concat(pieces);
        Assert.True(pieces.Count >= 4, $"too few pieces to pick a stop from: '{full}'");
        var k = Enumerable.Range(1, pieces.Count - 2).First(i => !char.IsWhiteSpace(pieces[i][^1]));
        var stop = pieces[k][^1..] + pieces[k + 1][..1];
        var expected = full[..full.IndexOf(stop, StringComparison.Ordinal)].Trim();

        var stopped = new ChatOptions { MaxOutputTokens = 12, StopSequences = [stop] };
        var response = await client.GetResponseAsync([UserTurn(null)], stopped);
        Assert.Equal(expected, response.Text);
        Assert.DoesNotContain(stop, response.Text);
        var streamed = string.Concat((await client.GetStreamingResponseAsync([UserTurn(null)], stopped).ToListAsync()).Select(u => u.Text));
        Assert.Equal(expected, streamed.Trim());
        // A stop the answer never reaches leaves it whole.
        Assert.Equal(full.Trim(), (await client.GetResponseAsync([UserTurn(null)], new ChatOptions { MaxOutputTokens = 12, StopSequences = ["\u0001never"] })).Text);
    }

    [Fact]
    public async Task OptionsBlip2CannotHonourAreTypedErrorsBeforeAnyWork()
    {
        using var client = Client();
        var frequency = await Assert.ThrowsAsync<UnsupportedChatOptionException>(() => client.GetResponseAsync([UserTurn(null)], new ChatOptions { FrequencyPenalty = 0.5f }));
        Assert.Equal(("FrequencyPenalty", (object?)0.5f), (frequency.Option, frequency.Value));
        Assert.Contains("repetition_penalty", frequency.Message);
        Assert.Equal("PresencePenalty", (await Assert.ThrowsAsync<UnsupportedChatOptionException>(
            () => client.GetResponseAsync([UserTurn(null)], new ChatOptions { PresencePenalty = -1f }))).Option);
        Assert.Equal("ResponseFormat", (await Assert.ThrowsAsync<UnsupportedChatOptionException>(
            () => client.GetResponseAsync([UserTurn(null)], new ChatOptions { ResponseFormat = ChatResponseFormat.Json }))).Option);
        Assert.Equal("ToolMode", (await Assert.ThrowsAsync<UnsupportedChatOptionException>(
            () => client.GetStreamingResponseAsync([UserTurn(null)], new ChatOptions { ToolMode = ChatToolMode.RequireAny }).ToListAsync().AsTask())).Option);
        // Zero penalties, a text format and tools the model may leave uncalled are what BLIP-2 does anyway.
        var fine = await client.GetResponseAsync([UserTurn(null)], new ChatOptions
        {
            MaxOutputTokens = 3, FrequencyPenalty = 0, PresencePenalty = 0, ResponseFormat = ChatResponseFormat.Text, ToolMode = ChatToolMode.Auto,
        });
        Assert.False(string.IsNullOrWhiteSpace(fine.Text));
        // An empty stop string is the generation options' own typed error.
        await Assert.ThrowsAsync<Generation.InvalidGenerationOptionException>(() => client.GetResponseAsync([UserTurn(null)], new ChatOptions { StopSequences = [""] }));
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
            MaxOutputTokens = 7, Temperature = 0.5f, TopP = 0.9f, TopK = 20, Seed = 3, StopSequences = ["\n", "Question:"],
            AdditionalProperties = new() { ["num_beams"] = 2, ["repetition_penalty"] = 1.3, ["no_repeat_ngram_size"] = 3 },
        });
        Assert.Equal(7, sampled.MaxNewTokens);
        Assert.True(sampled.DoSample);
        Assert.Equal(0.5, sampled.Temperature!.Value, 6);
        Assert.Equal(0.9, sampled.TopP!.Value, 6);
        Assert.Equal(20, sampled.TopK);
        Assert.Equal(3, sampled.Seed);
        Assert.Equal(2, sampled.NumBeams);
        Assert.Equal(1.3, sampled.RepetitionPenalty);
        Assert.Equal(3, sampled.NoRepeatNgramSize);
        Assert.Equal(["\n", "Question:"], sampled.StopStrings);
        Assert.Null(Blip2ChatClient.ToGenerationOptions(new ChatOptions { StopSequences = [] }).StopStrings);

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
