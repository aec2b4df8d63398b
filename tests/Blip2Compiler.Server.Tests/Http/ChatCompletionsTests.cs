using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatRole = Microsoft.Extensions.AI.ChatRole;

namespace Blip2Compiler.Server.Tests.Http;

/// <summary>
/// /v1/chat/completions through the official OpenAI .NET client and Microsoft.Extensions.AI's OpenAI IChatClient,
/// each answer compared with a lone Blip2Captioner call (the reference).
/// </summary>
public abstract class ChatCompletionsTests<TServer>(TServer fixture) : IClassFixture<TServer> where TServer : CaptioningServer
{
    private static ImageSource Photo => ImageSource.FromBytes(TinyModels.Photo, "astronaut.png");
    private static ChatMessageContentPart ImagePart => ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(TinyModels.Photo), "image/png");

    private ChatClient Chat() => fixture.Server.OpenAI().GetChatClient("blip2-tiny-opt");

    private string Expected(string? prompt, int maxNew, GenerationOptions? options = null) =>
        fixture.Captioner.Caption([Photo], [prompt], (options ?? new()) with { MaxNewTokens = maxNew })[0];

    [Fact]
    public async Task ACaptionIsAnImageWithoutText()
    {
        ChatCompletion answer = await Chat().CompleteChatAsync([new UserChatMessage(ImagePart)], new ChatCompletionOptions { MaxOutputTokenCount = 8 });
        Assert.Equal(Expected(null, 8), answer.Content.Single().Text);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, answer.FinishReason);
        Assert.Equal(fixture.Captioner.PromptPositions(null), answer.Usage.InputTokenCount);
        Assert.Equal(8, answer.Usage.OutputTokenCount);
        Assert.Equal("blip2-tiny-opt", answer.Model);
    }

    [Fact]
    public async Task AQuestionUsesTheVqaPromptAndHistoryTheLavisOne()
    {
        ChatCompletion single = await Chat().CompleteChatAsync(
            [new SystemChatMessage("ignored"), new UserChatMessage(ImagePart, ChatMessageContentPart.CreateTextPart("what is it?"))],
            new ChatCompletionOptions { MaxOutputTokenCount = 5 });
        Assert.Equal(Expected("Question: what is it? Answer:", 5), single.Content.Single().Text);

        ChatCompletion multi = await Chat().CompleteChatAsync(
            [new UserChatMessage(ImagePart, ChatMessageContentPart.CreateTextPart("what is it?")), new AssistantChatMessage("a horse"), new UserChatMessage("why?")],
            new ChatCompletionOptions { MaxOutputTokenCount = 5 });
        Assert.Equal(Expected("Question: what is it? Answer: a horse. Question: why? Answer:", 5), multi.Content.Single().Text);
    }

    [Fact]
    public async Task StreamingGivesTheSameTextInChunksThenUsage()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 10 };
        var pieces = new List<string>();
        OpenAI.Chat.ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage(ImagePart)], options))
        {
            pieces.AddRange(update.ContentUpdate.Select(p => p.Text));
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.True(pieces.Count(p => p.Length > 0) > 1, "text arrives in pieces");
        Assert.Equal(Expected(null, 10), string.Concat(pieces));
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, finish);
        Assert.NotNull(usage);
        Assert.Equal(10, usage!.OutputTokenCount);
    }

    [Fact]
    public async Task RawEventsAreOpenAisChunksEndingWithDone()
    {
        using var http = fixture.Server.Http();
        var body = Requests.Chat(maxTokens: 4, stream: true);
        using var response = await http.PostAsync("/v1/chat/completions", Requests.Json(body));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("length", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var streamed = string.Concat(chunks.Skip(1).SkipLast(1).Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        Assert.Equal(Expected(null, 4), streamed);
    }

    [Fact]
    public async Task StopCutsTheTextAndSeedRepeats()
    {
        var full = Expected(null, 12);
        var stop = full.Substring(full.Length / 2, 2);
        ChatCompletion cut = await Chat().CompleteChatAsync([new UserChatMessage(ImagePart)], new ChatCompletionOptions { MaxOutputTokenCount = 12, StopSequences = { stop } });
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)].TrimEnd(), cut.Content.Single().Text);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, cut.FinishReason);

#pragma warning disable OPENAI001 // Seed is marked experimental in the client
        var sampled = new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0.8f, TopP = 0.9f, Seed = 17 };
#pragma warning restore OPENAI001
        ChatCompletion first = await Chat().CompleteChatAsync([new UserChatMessage(ImagePart)], sampled);
        ChatCompletion second = await Chat().CompleteChatAsync([new UserChatMessage(ImagePart)], sampled);
        Assert.Equal(first.Content.Single().Text, second.Content.Single().Text);
        Assert.Equal(Expected(null, 8, new() { DoSample = true, Temperature = 0.8f, TopP = 0.9f, Seed = 17 }), first.Content.Single().Text);
    }

    [Fact]
    public async Task NSampledChoicesAreTheGenerateRows()
    {
        using var http = fixture.Server.Http();
        var body = Requests.Chat(maxTokens: 5, extra: new() { ["n"] = 3, ["temperature"] = 1.0, ["seed"] = 4 });
        using var response = await http.PostAsync("/v1/chat/completions", Requests.Json(body));
        response.EnsureSuccessStatusCode();
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        var choices = json.GetProperty("choices").EnumerateArray().ToList();
        var rows = fixture.Captioner.Generate(Photo, null, new GenerationOptions { MaxNewTokens = 5, DoSample = true, Temperature = 1.0, Seed = 4, NumReturnSequences = 3 });
        Assert.Equal(3, choices.Count);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(i, choices[i].GetProperty("index").GetInt32());
            var tokens = rows.NewTokens[i].TakeWhile(t => t != fixture.Captioner.Model.ModelInfo.EosTokenId).Select(t => (int)t);
            Assert.Equal(fixture.Captioner.Tokenizer.Decode(tokens).Trim(), choices[i].GetProperty("message").GetProperty("content").GetString());
        }
        Assert.Equal(rows.NewTokens.Sum(r => r.TakeWhile(t => t != fixture.Captioner.Model.ModelInfo.EosTokenId).Count()),
            json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task MicrosoftExtensionsAiChatClientWorksAgainstTheServer()
    {
        IChatClient client = Chat().AsIChatClient();
        var response = await client.GetResponseAsync(
            [new AIChatMessage(AIChatRole.User, [new DataContent(TinyModels.Photo, "image/png"), new TextContent("what is it?")])],
            new ChatOptions { MaxOutputTokens = 6 });
        Assert.Equal(Expected("Question: what is it? Answer:", 6), response.Text);

        var updates = await client.GetStreamingResponseAsync([new AIChatMessage(AIChatRole.User, [new DataContent(TinyModels.Photo, "image/png")])],
            new ChatOptions { MaxOutputTokens = 6 }).ToListAsync();
        Assert.Equal(Expected(null, 6), string.Concat(updates.Select(u => u.Text)));
    }

    [Fact]
    public async Task ALongConversationLosesItsOldestTurnsAndTheHeadersSaySo()
    {
        // Eight 20-token turns do not fit the tiny OPT's 128 positions with 20 new tokens: the answer is the
        // captioner's on the LAVIS prompt of the turns the headers say were kept, streamed or not.
        var filler = string.Join(" ", Enumerable.Repeat("word", 12));
        var turns = Enumerable.Range(0, 8).Select(i => ($"q{i} {filler}", $"a{i}")).ToList();
        foreach (var stream in new[] { false, true })
        {
            var body = Requests.Chat(maxTokens: 20, stream: stream, question: turns[0].Item1);
            var messages = body["messages"]!.AsArray();
            messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = turns[0].Item2 });
            foreach (var (q, a) in turns.Skip(1))
            {
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = q });
                messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = a });
            }
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = "last?" });

            using var http = fixture.Server.Http();
            using var response = await http.PostAsync("/v1/chat/completions", Requests.Json(body));
            response.EnsureSuccessStatusCode();
            int Header(string name) => int.Parse(response.Headers.GetValues(name).Single(), System.Globalization.CultureInfo.InvariantCulture);
            var dropped = Header("X-Blip2-Turns-Dropped");
            Assert.InRange(dropped, 1, 7);
            Assert.Equal(8 - dropped, Header("X-Blip2-Conversation-Turns"));
            Assert.Equal(0, Header("X-Blip2-Turns-About-Earlier-Images"));

            var prompt = string.Join(" ", turns.Skip(dropped).Select(t => $"Question: {t.Item1} Answer: {t.Item2}.")) + " Question: last? Answer:";
            var text = await response.Content.ReadAsStringAsync();
            var answer = stream
                ? string.Concat(text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).SkipLast(1)
                    .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices"))
                    .Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("content", out _))
                    .Select(c => c[0].GetProperty("delta").GetProperty("content").GetString()))
                : JsonDocument.Parse(text).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
            Assert.Equal(Expected(prompt, 20), answer);
        }
    }

    [Fact]
    public async Task ModelsListTheServedOneAndAnUnknownIsA404()
    {
        var models = fixture.Server.OpenAI().GetOpenAIModelClient();
        var list = (await models.GetModelsAsync()).Value;
        Assert.Equal("blip2-tiny-opt", Assert.Single(list).Id);
        Assert.Equal("blip2-tiny-opt", (await models.GetModelAsync("blip2-tiny-opt")).Value.Id);
        var missing = await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() => models.GetModelAsync("gpt-4o"));
        Assert.Equal(404, missing.Status);
    }
}

/// <summary>On the continuous-batching engine (the default of blip2 serve).</summary>
public class ChatCompletionsTestsOnContinuousEngine(CaptioningServer fixture) : ChatCompletionsTests<CaptioningServer>(fixture);

/// <summary>On the sequential engine (blip2 serve --engine sequential).</summary>
public class ChatCompletionsTestsOnSequentialEngine(SequentialCaptioningServer fixture) : ChatCompletionsTests<SequentialCaptioningServer>(fixture);
