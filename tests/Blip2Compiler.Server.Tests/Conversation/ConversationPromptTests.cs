using Blip2Compiler.AI;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.Server.Tests.Conversation;

/// <summary>
/// Chat history → BLIP-2 prompt, as the BLIP-2 authors' LAVIS example builds it (salesforce/LAVIS,
/// projects/blip2/README.md): <c>" ".join("Question: {} Answer: {}.".format(q, a) for (q, a) in context) +
/// " Question: " + question + " Answer:"</c>.
/// </summary>
public class ConversationPromptTests(TinyModels models) : IClassFixture<TinyModels>
{
    private static DataContent Image(byte marker = 0) =>
        new(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', marker }, "image/png") { Name = $"image{marker}" };

    private static ChatMessage User(params AIContent[] contents) => new(ChatRole.User, contents);

    /// <summary>LAVIS's own expression, written out for a context and a question.</summary>
    private static string Lavis(IEnumerable<(string Q, string A)> context, string question) =>
        string.Join(" ", context.Select(t => $"Question: {t.Q} Answer: {t.A}.")) + " Question: " + question + " Answer:";

    [Fact]
    public void TheLavisExampleGivesItsPrompt()
    {
        // The README's follow-up example, message by message.
        var prompt = ConversationPrompt.FromMessages([
            User(Image(), new TextContent("which city is this?")),
            new ChatMessage(ChatRole.Assistant, "singapore"),
            new ChatMessage(ChatRole.User, "why?"),
            new ChatMessage(ChatRole.Assistant, "it has a statue of a merlion"),
            new ChatMessage(ChatRole.User, "where is the name merlion coming from?"),
        ]);
        var expected = Lavis([("which city is this?", "singapore"), ("why?", "it has a statue of a merlion")], "where is the name merlion coming from?");
        Assert.Equal("Question: which city is this? Answer: singapore. Question: why? Answer: it has a statue of a merlion. "
            + "Question: where is the name merlion coming from? Answer:", expected);
        Assert.Equal(expected, prompt.Format());
        Assert.Equal(2, prompt.History.Count);
        Assert.Equal(Lavis([("why?", "it has a statue of a merlion")], "where is the name merlion coming from?"), prompt.Format(skipOldest: 1));
    }

    [Fact]
    public void OneQuestionIsTheVqaPrompt()
    {
        // Hugging Face's VQA prompt; LAVIS's join of no turns would start with a space, a different first token.
        var prompt = ConversationPrompt.FromMessages([User(Image(), new TextContent(" what is it? "))]);
        Assert.Equal("Question: what is it? Answer:", prompt.Format());
        Assert.Equal(Blip2Captioner.QuestionPrompt("what is it?"), prompt.Format());
        Assert.Empty(prompt.History);
    }

    [Fact]
    public void SystemAndToolMessagesAreLeftOut()
    {
        ChatMessage[] plain = [User(Image(), new TextContent("what is it?")), new(ChatRole.Assistant, "a horse"), new(ChatRole.User, "why?")];
        var withSystem = ConversationPrompt.FromMessages([
            new ChatMessage(ChatRole.System, "You are a helpful assistant."),
            plain[0], plain[1],
            new ChatMessage(ChatRole.Tool, "tool output"),
            new ChatMessage(ChatRole.System, "Answer briefly."),
            plain[2],
        ]);
        Assert.Equal(ConversationPrompt.FromMessages(plain).Format(), withSystem.Format());
        Assert.Equal(Lavis([("what is it?", "a horse")], "why?"), withSystem.Format());
    }

    [Fact]
    public void AssistantTurnsAnswerTheQuestionBeforeThem()
    {
        var prompt = ConversationPrompt.FromMessages([
            new ChatMessage(ChatRole.Assistant, "hello, send me a photo"),        // answers nothing: left out
            User(Image(), new TextContent("what is"), new TextContent(" it? ")),  // text parts joined
            new ChatMessage(ChatRole.Assistant, "a horse"),
            new ChatMessage(ChatRole.User, "what colour"),                         // consecutive user messages: one question
            new ChatMessage(ChatRole.User, "is it?"),
            new ChatMessage(ChatRole.Assistant, "brown"),
            new ChatMessage(ChatRole.User, "where is it?"),
        ]);
        Assert.Equal([new ConversationTurn("what is it?", "a horse"), new ConversationTurn("what colour is it?", "brown")], prompt.History);
        Assert.Equal(Lavis([("what is it?", "a horse"), ("what colour is it?", "brown")], "where is it?"), prompt.Format());
    }

    [Fact]
    public void AConversationEndingWithTheAssistantHasNothingToAnswer()
    {
        var error = Assert.Throws<InvalidConversationException>(() => ConversationPrompt.FromMessages([
            User(Image(), new TextContent("what is it?")), new ChatMessage(ChatRole.Assistant, "a horse"), new ChatMessage(ChatRole.System, "x"),
        ]));
        Assert.Equal(ConversationProblem.NothingToAnswer, error.Problem);
        Assert.Equal(1, error.MessageIndex);
    }

    [Fact]
    public void AnImageWithoutTextIsACaptionWithNoHistory()
    {
        var prompt = ConversationPrompt.FromMessages([
            User(Image(1), new TextContent("what is it?")),
            new ChatMessage(ChatRole.Assistant, "a cat"),
            User(Image(1)),
        ]);
        Assert.Null(prompt.Question);
        Assert.Null(prompt.Format());
        Assert.Empty(prompt.History);
        Assert.Equal(new ConversationFit(null, 0, 0, 0), prompt.Fit(_ => throw new InvalidOperationException("a caption has no prompt to fit")));
    }

    [Fact]
    public void TheLatestImageIsUsedAndTurnsAboutEarlierOnesAreLeftOut()
    {
        var prompt = ConversationPrompt.FromMessages([
            User(Image(1), new TextContent("what is it?")),
            new ChatMessage(ChatRole.Assistant, "a cat"),
            new ChatMessage(ChatRole.User, "what colour?"),
            new ChatMessage(ChatRole.Assistant, "black"),
            User(Image(2), new TextContent("and this one?")),
            new ChatMessage(ChatRole.Assistant, "a dog"),
            new ChatMessage(ChatRole.User, "what colour?"),
        ]);
        Assert.Equal("image2", prompt.Image.Name);
        Assert.Equal(2, prompt.EarlierImageTurns);
        Assert.Equal(Lavis([("and this one?", "a dog")], "what colour?"), prompt.Format());
        Assert.Equal(new ConversationFit(prompt.Format(), 1, 0, 2), prompt.Fit(_ => true));
    }

    [Fact]
    public void TheSameImageSentAgainKeepsTheHistory()
    {
        // Clients that resend the image with each turn: the same bytes are the same image.
        var prompt = ConversationPrompt.FromMessages([
            User(Image(1), new TextContent("what is it?")),
            new ChatMessage(ChatRole.Assistant, "a cat"),
            User(Image(1), new TextContent("what colour?")),
        ]);
        Assert.Equal(0, prompt.EarlierImageTurns);
        Assert.Equal(Lavis([("what is it?", "a cat")], "what colour?"), prompt.Format());
    }

    [Fact]
    public void SeveralDifferentImagesInOneMessageAreATypedError()
    {
        var error = Assert.Throws<InvalidConversationException>(() => ConversationPrompt.FromMessages([
            new ChatMessage(ChatRole.System, "compare"),
            User(Image(1), Image(2), new TextContent("which is bigger?")),
        ]));
        Assert.Equal(ConversationProblem.SeveralImagesInOneMessage, error.Problem);
        Assert.Equal(1, error.MessageIndex);
        Assert.Contains("one image", error.Message);
        // The same image twice in one message is one image.
        Assert.Equal("Question: what? Answer:", ConversationPrompt.FromMessages([User(Image(1), Image(1), new TextContent("what?"))]).Format());
    }

    [Fact]
    public void WithoutAnImageItSaysSo()
    {
        var error = Assert.Throws<InvalidConversationException>(() => ConversationPrompt.FromMessages([new ChatMessage(ChatRole.User, "hi")]));
        Assert.Equal(ConversationProblem.NoImage, error.Problem);
        Assert.Null(error.MessageIndex);
        Assert.Contains("image", error.Message);
    }

    [Fact]
    public void TheOldestTurnsGoWhenThePromptDoesNotFitAndTheFitSaysHowMany()
    {
        // The tiny OPT has 128 positions (its image takes 6, BOS 1): with 20 new tokens, the longest prompt
        // that fits keeps the newest turns; one more turn would not fit.
        var filler = string.Join(" ", Enumerable.Repeat("word", 12));
        var messages = new List<ChatMessage> { User(Image(), new TextContent("q0 " + filler)), new(ChatRole.Assistant, "a0") };
        for (var i = 1; i < 8; i++)
        {
            messages.Add(new ChatMessage(ChatRole.User, $"q{i} " + filler));
            messages.Add(new ChatMessage(ChatRole.Assistant, $"a{i}"));
        }
        messages.Add(new ChatMessage(ChatRole.User, "last?"));
        var conversation = ConversationPrompt.FromMessages(messages);
        var limit = models.Opt.ModelInfo.MaxPositions;
        int Needed(string? prompt) => models.Captioner.PromptPositions(prompt) + 20 - 1;   // the prelude's rule

        var fit = conversation.Fit(models.Captioner, new Generation.GenerationOptions { MaxNewTokens = 20 });
        Assert.True(Needed(conversation.Format()) > limit);
        Assert.InRange(fit.TurnsDropped, 1, 7);
        Assert.Equal(8, fit.TurnsKept + fit.TurnsDropped);
        Assert.Equal(conversation.Format(fit.TurnsDropped), fit.Prompt);
        Assert.True(Needed(fit.Prompt) <= limit);
        Assert.True(Needed(conversation.Format(fit.TurnsDropped - 1)) > limit);   // the longest that fits
        Assert.StartsWith($"Question: q{fit.TurnsDropped} ", fit.Prompt);
        Assert.EndsWith("Answer: a7. Question: last? Answer:", fit.Prompt);

        // The generation prelude takes it, and takes nothing longer.
        models.Captioner.Generate(Processing.ImageSource.FromBytes(TinyModels.Photo), fit.Prompt, new() { MaxNewTokens = 20 });
        Assert.Throws<Generation.PromptTooLongException>(() => models.Captioner.Generate(
            Processing.ImageSource.FromBytes(TinyModels.Photo), conversation.Format(fit.TurnsDropped - 1), new() { MaxNewTokens = 20 }));
    }

    [Fact]
    public void FewerNewTokensKeepMoreTurnsAndAPositionLimitKeepsFewer()
    {
        var filler = string.Join(" ", Enumerable.Repeat("word", 12));
        var messages = new List<ChatMessage> { User(Image(), new TextContent("q0 " + filler)), new(ChatRole.Assistant, "a0") };
        for (var i = 1; i < 8; i++) { messages.Add(new(ChatRole.User, $"q{i} " + filler)); messages.Add(new(ChatRole.Assistant, $"a{i}")); }
        messages.Add(new ChatMessage(ChatRole.User, "last?"));
        var conversation = ConversationPrompt.FromMessages(messages);

        var twenty = conversation.Fit(models.Captioner, new Generation.GenerationOptions { MaxNewTokens = 20 });
        var two = conversation.Fit(models.Captioner, new Generation.GenerationOptions { MaxNewTokens = 2 });
        Assert.True(two.TurnsKept > twenty.TurnsKept, $"{two.TurnsKept} vs {twenty.TurnsKept}");
        // A serving engine's rows of 80 positions: prompt + new tokens ≤ 80.
        var rows = conversation.Fit(models.Captioner, new Generation.GenerationOptions { MaxNewTokens = 20 }, positionLimit: 80);
        Assert.True(models.Captioner.PromptPositions(rows.Prompt) + 20 <= 80);
        Assert.True(models.Captioner.PromptPositions(conversation.Format(rows.TurnsDropped - 1)) + 20 > 80);
    }

    [Fact]
    public void ALongHistoryIsFittedInLogarithmicallyManyTries()
    {
        // 1,000 turns against a plain length rule: the same answer as trying each count of dropped turns in order
        // (the reference), in at most 1 + ⌈log2 1000⌉ = 11 tries.
        var messages = new List<ChatMessage> { User(Image(), new TextContent("q0")), new(ChatRole.Assistant, "a0") };
        for (var i = 1; i < 1000; i++) { messages.Add(new(ChatRole.User, $"q{i}")); messages.Add(new(ChatRole.Assistant, $"a{i}")); }
        messages.Add(new ChatMessage(ChatRole.User, "last?"));
        var conversation = ConversationPrompt.FromMessages(messages);
        foreach (var budget in new[] { 10, 500, 5_000, 100_000 })
        {
            var tries = 0;
            var fit = conversation.Fit(p => { tries++; return p!.Length <= budget; });
            var linear = Enumerable.Range(0, 1001).First(skip => skip == 1000 || conversation.Format(skip)!.Length <= budget);
            Assert.Equal(linear, fit.TurnsDropped);
            Assert.Equal(conversation.Format(linear), fit.Prompt);
            Assert.InRange(tries, 1, 11);
        }
    }
}
