using Blip2Compiler.AI;
using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.Server.Tests.Conversation;

/// <summary>Blip2ChatClient builds its prompt with ConversationPrompt, as the server does.</summary>
public class ChatClientConversationTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task AMultiTurnChatAnswersWithTheLavisPrompt()
    {
        using IChatClient client = new Blip2ChatClient(models.Captioner);
        var response = await client.GetResponseAsync([
            new ChatMessage(ChatRole.User, [new DataContent(TinyModels.Photo, "image/png"), new TextContent("what is it?")]),
            new ChatMessage(ChatRole.Assistant, "a horse"),
            new ChatMessage(ChatRole.User, "why?"),
        ], new ChatOptions { MaxOutputTokens = 5 });
        var expected = models.Captioner.Caption([ImageSource.FromBytes(TinyModels.Photo)],
            ["Question: what is it? Answer: a horse. Question: why? Answer:"], new() { MaxNewTokens = 5 })[0];
        Assert.Equal(expected, response.Text);
    }
}
