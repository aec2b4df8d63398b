using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>One answered question of a conversation.</summary>
public sealed record ConversationTurn(string Question, string Answer);

/// <summary>
/// A chat conversation as BLIP-2 sees it: one image and a multi-turn prompt, built as LAVIS's BLIP-2 chat example
/// does: each answered turn as <c>"Question: {q} Answer: {a}."</c>, joined by spaces, then
/// <c>"Question: {q} Answer:"</c> for the question being asked (one turn alone is
/// <see cref="Blip2Captioner.QuestionPrompt"/>).
/// </summary>
/// <remarks>
/// Reading the messages: system (and tool) messages are ignored (BLIP-2 has no instruction prompt); the text parts of
/// a user message are joined by spaces into its question, consecutive user messages into one question; an assistant
/// message answers the question before it (one with no question before it is ignored). The image is the LAST image
/// of the conversation, wherever it is (BLIP-2 conditions on one image). When the last user message has no text the
/// request is a plain caption and the history is not used. When the prompt does not fit the language model's
/// positions, <see cref="Fit(Blip2Captioner, int)"/> drops the oldest turns first.
/// </remarks>
public sealed class ConversationPrompt
{
    public ConversationPrompt(ImageSource image, IReadOnlyList<ConversationTurn> history, string? question)
    {
        Image = image ?? throw new ArgumentNullException(nameof(image));
        History = history ?? throw new ArgumentNullException(nameof(history));
        Question = string.IsNullOrWhiteSpace(question) ? null : question.Trim();
    }

    /// <summary>The image the answer is about (the conversation's last one).</summary>
    public ImageSource Image { get; }

    /// <summary>The answered turns before the question, oldest first.</summary>
    public IReadOnlyList<ConversationTurn> History { get; }

    /// <summary>The question being asked; null: a plain caption.</summary>
    public string? Question { get; }

    /// <summary>Reads a conversation (see the remarks for the rules). Throws <see cref="Blip2Exception"/> when it has no image.</summary>
    public static ConversationPrompt FromMessages(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.ToList();
        var image = list.SelectMany(m => m.Contents).LastOrDefault(ChatContentReader.IsImage)
            ?? throw new Blip2Exception("BLIP-2 needs an image: add an image to a user message");
        var turns = new List<ConversationTurn>();
        string? question = null;
        foreach (var message in list)
        {
            var text = string.Join(" ", message.Contents.OfType<TextContent>().Select(t => t.Text.Trim()).Where(t => t.Length > 0));
            if (message.Role == ChatRole.User)
                question = question is null || question.Length == 0 ? text : text.Length == 0 ? question : question + " " + text;
            else if (message.Role == ChatRole.Assistant && !string.IsNullOrEmpty(question))
            {
                turns.Add(new ConversationTurn(question, text));
                question = null;
            }
        }
        // The last user message decides: with no text of its own it asks for a caption.
        var lastUser = list.LastOrDefault(m => m.Role == ChatRole.User);
        var asksSomething = lastUser is not null && lastUser.Contents.OfType<TextContent>().Any(t => t.Text.Trim().Length > 0);
        return new ConversationPrompt(ChatContentReader.ToImageSource(image), asksSomething ? turns : [], asksSomething ? question : null);
    }

    /// <summary>The prompt with the <paramref name="skipOldest"/> oldest turns left out; null for a plain caption.</summary>
    public string? Format(int skipOldest = 0)
    {
        if (Question is null) return null;
        var parts = History.Skip(skipOldest).Select(t => $"Question: {t.Question} Answer: {t.Answer}.").ToList();
        parts.Add(Blip2Captioner.QuestionPrompt(Question));
        return string.Join(" ", parts);
    }

    /// <summary>
    /// The longest prompt (oldest turns dropped first) that <paramref name="fits"/> accepts; the question alone
    /// when none does (the caller then reports that it is too long).
    /// </summary>
    public string? Fit(Func<string?, bool> fits)
    {
        ArgumentNullException.ThrowIfNull(fits);
        for (var skip = 0; skip < History.Count; skip++)
        {
            var prompt = Format(skip);
            if (fits(prompt)) return prompt;
        }
        return Format(History.Count);
    }

    /// <summary>The longest prompt that leaves room for <paramref name="maxNewTokens"/> new tokens in the captioner's model.</summary>
    public string? Fit(Blip2Captioner captioner, int maxNewTokens)
    {
        ArgumentNullException.ThrowIfNull(captioner);
        return Fit(prompt => captioner.MaxNewTokensFor(prompt) is not { } room || room >= maxNewTokens);
    }
}
