using Blip2Compiler.AI;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.Server.Tests.Conversation;

/// <summary>Chat history → BLIP-2 prompt, as LAVIS's BLIP-2 chat example builds it.</summary>
public class ConversationPromptTests(TinyModels models) : IClassFixture<TinyModels>
{
    private static DataContent Image(byte marker = 0) => new(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', marker }, "image/png");

    [Fact]
    public void TurnsBecomeLavisStylePrompt()
    {
        var prompt = ConversationPrompt.FromMessages([
            new ChatMessage(ChatRole.System, "You are helpful."),
            new ChatMessage(ChatRole.User, [Image(), new TextContent("which city is this?")]),
            new ChatMessage(ChatRole.Assistant, "singapore"),
            new ChatMessage(ChatRole.User, "why?"),
        ]);
        // LAVIS: " ".join("Question: {} Answer: {}." per turn) + " Question: " + q + " Answer:"
        Assert.Equal("Question: which city is this? Answer: singapore. Question: why? Answer:", prompt.Format());
        Assert.Equal("Question: why? Answer:", prompt.Format(skipOldest: 1));
    }

    [Fact]
    public void OneQuestionIsTheVqaPrompt()
    {
        var prompt = ConversationPrompt.FromMessages([new ChatMessage(ChatRole.User, [Image(), new TextContent(" what is it? ")])]);
        Assert.Equal(Blip2Captioner.QuestionPrompt("what is it?"), prompt.Format());
    }

    [Fact]
    public void AnImageWithoutTextIsACaptionAndTheLastImageIsUsed()
    {
        var last = Image(2);
        var prompt = ConversationPrompt.FromMessages([
            new ChatMessage(ChatRole.User, [Image(1), new TextContent("what is it?")]),
            new ChatMessage(ChatRole.Assistant, "a cat"),
            new ChatMessage(ChatRole.User, [last]),
        ]);
        Assert.Null(prompt.Question);
        Assert.Null(prompt.Format());
        Assert.Empty(prompt.History);
    }

    [Fact]
    public void WithoutAnImageItSaysSo()
    {
        var error = Assert.Throws<Blip2Exception>(() => ConversationPrompt.FromMessages([new ChatMessage(ChatRole.User, "hi")]));
        Assert.Contains("image", error.Message);
    }

    [Fact]
    public void TheOldestTurnsGoWhenThePromptDoesNotFit()
    {
        // The tiny OPT has 128 positions: three long turns do not fit with 20 new tokens, the last one does.
        var filler = string.Join(" ", Enumerable.Repeat("word", 30));
        var messages = new List<ChatMessage> { new(ChatRole.User, [Image(), new TextContent("first " + filler)]), new(ChatRole.Assistant, "one") };
        messages.Add(new ChatMessage(ChatRole.User, "second " + filler));
        messages.Add(new ChatMessage(ChatRole.Assistant, "two"));
        messages.Add(new ChatMessage(ChatRole.User, "third?"));
        var prompt = ConversationPrompt.FromMessages(messages);
        var fitted = prompt.Fit(models.Captioner, 20)!;
        Assert.True(models.Captioner.PromptPositions(prompt.Format()) + 20 > models.Opt.ModelInfo.MaxPositions);
        Assert.True(models.Captioner.PromptPositions(fitted) + 20 <= models.Opt.ModelInfo.MaxPositions);
        Assert.EndsWith("Question: second " + filler + " Answer: two. Question: third? Answer:", fitted);
        Assert.DoesNotContain("first", fitted);
    }
}
