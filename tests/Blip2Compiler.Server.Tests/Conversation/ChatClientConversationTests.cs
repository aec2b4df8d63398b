using Blip2Compiler.AI;
using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.Server.Tests.Conversation;

/// <summary>
/// A conversation through <see cref="IChatClient"/> on the tiny bundled checkpoint: Blip2ChatClient builds its prompt
/// with ConversationPrompt (as the server and blip2 chat do), each answer compared with a lone captioner call on the
/// prompt LAVIS's example would build.
/// </summary>
public class ChatClientConversationTests(TinyModels models) : IClassFixture<TinyModels>
{
    private static ImageSource Photo => ImageSource.FromBytes(TinyModels.Photo);

    private string Reference(string prompt, int maxNew) => models.Captioner.Caption([Photo], [prompt], new() { MaxNewTokens = maxNew })[0];

    [Fact]
    public async Task TheSecondAnswersPromptHoldsTheFirstQuestionAndAnswer()
    {
        using IChatClient client = new Blip2ChatClient(models.Captioner);
        var options = new ChatOptions { MaxOutputTokens = 5 };
        List<ChatMessage> history = [new(ChatRole.User, [new DataContent(TinyModels.Photo, "image/png"), new TextContent("what is it?")])];

        var first = await client.GetResponseAsync(history, options);
        Assert.Equal(Reference("Question: what is it? Answer:", 5), first.Text);
        Assert.Equal("Question: what is it? Answer:", first.AdditionalProperties![ConversationFit.PromptKey]);
        Assert.Equal(0, first.AdditionalProperties[ConversationFit.TurnsKeptKey]);

        history.AddMessages(first);
        history.Add(new ChatMessage(ChatRole.User, "why?"));
        var second = await client.GetResponseAsync(history, options);
        var prompt = $"Question: what is it? Answer: {first.Text}. Question: why? Answer:";
        Assert.Equal(prompt, second.AdditionalProperties![ConversationFit.PromptKey]);
        Assert.Equal(Reference(prompt, 5), second.Text);
        Assert.Equal(1, second.AdditionalProperties[ConversationFit.TurnsKeptKey]);
        Assert.Equal(0, second.AdditionalProperties[ConversationFit.TurnsDroppedKey]);

        // Streamed: the same text, and the same metadata on the last update (and so on the merged response).
        var updates = await client.GetStreamingResponseAsync(history, options).ToListAsync();
        Assert.Equal(second.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(prompt, updates[^1].AdditionalProperties![ConversationFit.PromptKey]);
        Assert.Equal(prompt, updates.ToChatResponse().AdditionalProperties![ConversationFit.PromptKey]);
    }

    [Fact]
    public async Task ALongConversationLosesItsOldestTurnsAndSaysHowMany()
    {
        using IChatClient client = new Blip2ChatClient(models.Captioner);
        var filler = string.Join(" ", Enumerable.Repeat("word", 12));
        var turns = Enumerable.Range(0, 8).Select(i => (Q: $"q{i} {filler}", A: $"a{i}")).ToList();
        var messages = new List<ChatMessage> { new(ChatRole.User, [new DataContent(TinyModels.Photo, "image/png"), new TextContent(turns[0].Q)]) };
        messages.Add(new ChatMessage(ChatRole.Assistant, turns[0].A));
        foreach (var (q, a) in turns.Skip(1)) { messages.Add(new(ChatRole.User, q)); messages.Add(new(ChatRole.Assistant, a)); }
        messages.Add(new ChatMessage(ChatRole.User, "last?"));

        var response = await client.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 20 });
        var dropped = (int)response.AdditionalProperties![ConversationFit.TurnsDroppedKey]!;
        Assert.InRange(dropped, 1, 7);
        Assert.Equal(8 - dropped, response.AdditionalProperties[ConversationFit.TurnsKeptKey]);
        var prompt = string.Join(" ", turns.Skip(dropped).Select(t => $"Question: {t.Q} Answer: {t.A}.")) + " Question: last? Answer:";
        Assert.Equal(prompt, response.AdditionalProperties[ConversationFit.PromptKey]);
        Assert.Equal(Reference(prompt, 20), response.Text);
    }

    [Fact]
    public async Task ANewImageStartsTheConversationAgain()
    {
        using IChatClient client = new Blip2ChatClient(models.Captioner);
        var other = new DataContent(TinyModels.PhotoFlipped, "image/png");
        var response = await client.GetResponseAsync([
            new ChatMessage(ChatRole.User, [new DataContent(TinyModels.Photo, "image/png"), new TextContent("what is it?")]),
            new ChatMessage(ChatRole.Assistant, "a horse"),
            new ChatMessage(ChatRole.User, [other, new TextContent("and this?")]),
        ], new ChatOptions { MaxOutputTokens = 5 });
        Assert.Equal(1, response.AdditionalProperties![ConversationFit.EarlierImageTurnsKey]);
        Assert.Equal("Question: and this? Answer:", response.AdditionalProperties[ConversationFit.PromptKey]);
        Assert.Equal(models.Captioner.Caption([ImageSource.FromBytes(TinyModels.PhotoFlipped)], ["Question: and this? Answer:"], new() { MaxNewTokens = 5 })[0],
            response.Text);
    }

    [Fact]
    public async Task ACancelledStreamStopsAndTheClientGoesOn()
    {
        using IChatClient client = new Blip2ChatClient(models.Captioner);
        ChatMessage[] caption = [new(ChatRole.User, [new DataContent(TinyModels.Photo, "image/png")])];
        // 100 tokens at least: the cancel after the first piece comes long before the end.
        var options = new ChatOptions { MaxOutputTokens = 100, AdditionalProperties = new() { ["min_new_tokens"] = 100 } };
        using var cancel = new CancellationTokenSource();
        var pieces = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync(caption, options, cancel.Token))
            {
                pieces++;
                cancel.Cancel();
            }
        });
        Assert.Equal(1, pieces);
        var after = await client.GetResponseAsync(caption, new ChatOptions { MaxOutputTokens = 4 });
        Assert.Equal(models.Captioner.Caption([Photo], [null], new() { MaxNewTokens = 4 })[0], after.Text);
    }

    [Fact]
    public async Task AConversationItCannotAnswerIsATypedError()
    {
        using IChatClient client = new Blip2ChatClient(models.Captioner);
        var error = await Assert.ThrowsAsync<InvalidConversationException>(() => client.GetResponseAsync([
            new ChatMessage(ChatRole.User, [new DataContent(TinyModels.Photo, "image/png"), new TextContent("what is it?")]),
            new ChatMessage(ChatRole.Assistant, "a horse"),
        ]));
        Assert.Equal(ConversationProblem.NothingToAnswer, error.Problem);
    }
}
