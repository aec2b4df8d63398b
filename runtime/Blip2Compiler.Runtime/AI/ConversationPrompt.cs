using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>One answered question of a conversation.</summary>
public sealed record ConversationTurn(string Question, string Answer);

/// <summary>
/// A chat conversation as BLIP-2 sees it: one image and a multi-turn prompt, built as the BLIP-2 authors' LAVIS
/// example does (salesforce/LAVIS, <c>projects/blip2/README.md</c>, "Ask a follow-up question"):
/// <c>template = "Question: {} Answer: {}."</c>, <c>prompt = " ".join(template.format(q, a) for each answered turn)
/// + " Question: " + question + " Answer:"</c>. So each answered turn is <c>"Question: {q} Answer: {a}."</c>, the
/// turns are joined by spaces and the question being asked ends the prompt as <c>"Question: {q} Answer:"</c>. A
/// question with no history is Hugging Face's VQA prompt, <see cref="Blip2Captioner.QuestionPrompt"/> (LAVIS's join of
/// no turns would start it with a space).
/// </summary>
/// <remarks>
/// <para>Reading the messages: system, developer and tool messages are ignored (BLIP-2 has no instruction prompt; LAVIS
/// and Hugging Face prompt it with the question alone). The text parts of a user message are joined by spaces into its
/// question, consecutive user messages into one question; an assistant message answers the question before it (one
/// with no question before it is ignored). When the last user message has no text the request is a plain caption
/// and no history is used.</para>
/// <para>Several images: BLIP-2 conditions on one image, so the conversation is about its LATEST image. The message
/// that brings that image starts the conversation: the turns before it were about another image, and an answer
/// about another image in the prompt would read as one about this one, so they are left out and counted
/// (<see cref="EarlierImageTurns"/>). The same image sent again (the same bytes, or the same URI) is not a new one,
/// so a client that repeats the image with every request keeps its history. One message with several different
/// images has no latest one: an <see cref="InvalidConversationException"/>.</para>
/// <para>When the prompt does not fit the language model's positions, <see cref="Fit(Func{string?, bool})"/> drops
/// the oldest turns first, and says how many.</para>
/// </remarks>
public sealed class ConversationPrompt
{
    public ConversationPrompt(ImageSource image, IReadOnlyList<ConversationTurn> history, string? question, int earlierImageTurns = 0)
    {
        Image = image ?? throw new ArgumentNullException(nameof(image));
        History = history ?? throw new ArgumentNullException(nameof(history));
        Question = string.IsNullOrWhiteSpace(question) ? null : question.Trim();
        ArgumentOutOfRangeException.ThrowIfNegative(earlierImageTurns);
        EarlierImageTurns = earlierImageTurns;
    }

    /// <summary>The image the answer is about (the conversation's latest one).</summary>
    public ImageSource Image { get; }

    /// <summary>The answered turns about <see cref="Image"/> before the question, oldest first.</summary>
    public IReadOnlyList<ConversationTurn> History { get; }

    /// <summary>The question being asked; null: a plain caption.</summary>
    public string? Question { get; }

    /// <summary>Answered turns about an earlier image, left out of <see cref="History"/>.</summary>
    public int EarlierImageTurns { get; }

    /// <summary>Reads a conversation (see the remarks for the rules); an <see cref="InvalidConversationException"/> when BLIP-2 cannot answer it.</summary>
    public static ConversationPrompt FromMessages(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.ToList();
        var (image, start) = LatestImage(list);

        var turns = new List<ConversationTurn>();
        int earlier = 0;
        string? question = null;
        for (var i = 0; i < list.Count; i++)
        {
            if (i == start)
            {
                // The latest image starts the conversation: what came before was about another one.
                earlier = turns.Count;
                turns.Clear();
                question = null;
            }
            var message = list[i];
            var text = TextOf(message);
            if (message.Role == ChatRole.User)
                question = string.IsNullOrEmpty(question) ? text : text.Length == 0 ? question : question + " " + text;
            else if (message.Role == ChatRole.Assistant && !string.IsNullOrEmpty(question))
            {
                turns.Add(new ConversationTurn(question, text));
                question = null;
            }
        }

        // The last user or assistant message decides: the assistant's leaves nothing to answer; a user's with no
        // text of its own asks for a caption.
        var last = list.FindLastIndex(m => m.Role == ChatRole.User || m.Role == ChatRole.Assistant);
        if (last >= 0 && list[last].Role == ChatRole.Assistant)
            throw new InvalidConversationException(ConversationProblem.NothingToAnswer, last,
                $"the conversation ends with an assistant message (message {last}): add a user message with the question to answer, or none for a caption");
        var asksSomething = last >= 0 && TextOf(list[last]).Length > 0;
        return asksSomething
            ? new ConversationPrompt(ChatContentReader.ToImageSource(image), turns, question, earlier)
            : new ConversationPrompt(ChatContentReader.ToImageSource(image), [], null);
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
    /// The longest prompt (oldest turns dropped first) that <paramref name="fits"/> accepts, and how many turns it
    /// left out; the question alone when none does (the generation prelude then reports it as too long:
    /// <see cref="PromptTooLongException"/>).
    /// </summary>
    public ConversationFit Fit(Func<string?, bool> fits)
    {
        ArgumentNullException.ThrowIfNull(fits);
        if (Question is null) return new ConversationFit(null, 0, 0, EarlierImageTurns);
        var whole = Format();
        if (History.Count == 0 || fits(whole)) return new ConversationFit(whole, History.Count, 0, EarlierImageTurns);
        // Fewer turns, fewer positions: the fewest to drop is found by bisection, so a long history costs log2(turns)
        // tokenizations of its prompt, not one per turn (a 10,000-turn request would otherwise take 10,000).
        int fewest = 1, most = History.Count;
        while (fewest < most)
        {
            var middle = fewest + (most - fewest) / 2;
            if (fits(Format(middle))) most = middle;
            else fewest = middle + 1;
        }
        return new ConversationFit(Format(fewest), History.Count - fewest, fewest, EarlierImageTurns);
    }

    /// <summary>
    /// The longest prompt that leaves the captioner's model room for the new tokens <paramref name="options"/> ask for
    /// (over the checkpoint's defaults; Hugging Face's 20 when unset), by the generation prelude's own rule
    /// (<see cref="Blip2Captioner.MaxNewTokensFor"/>), and, when <paramref name="positionLimit"/> is given, whose
    /// positions plus those new tokens are at most that many (a serving engine's rows).
    /// </summary>
    public ConversationFit Fit(Blip2Captioner captioner, GenerationOptions? options = null, int? positionLimit = null)
    {
        ArgumentNullException.ThrowIfNull(captioner);
        var merged = GenerationDefaults.Merge(captioner.Defaults, options);
        // The max_length form counts the prompt in: dropping turns frees no room for new tokens, so the prompt only
        // has to fit with one (the prelude checks the rest).
        var maxNew = merged.MaxNewTokens ?? (merged.MaxLength is null ? 20 : 1);
        return Fit(prompt => (captioner.MaxNewTokensFor(prompt) is not { } room || room >= maxNew)
            && (positionLimit is not { } limit || captioner.PromptPositions(prompt) + (long)maxNew <= limit));
    }

    private static string TextOf(ChatMessage message) =>
        string.Join(" ", message.Contents.OfType<TextContent>().Select(t => t.Text.Trim()).Where(t => t.Length > 0));

    // The conversation's latest image and the message that first brings it (the same image sent again is not new).
    private static (AIContent Image, int Start) LatestImage(List<ChatMessage> messages)
    {
        AIContent? latest = null;
        var start = -1;
        for (var i = 0; i < messages.Count; i++)
        {
            var images = messages[i].Contents.Where(ChatContentReader.IsImage).ToList();
            if (images.Count == 0) continue;
            if (images.Skip(1).Any(other => !SameImage(images[0], other)))
                throw new InvalidConversationException(ConversationProblem.SeveralImagesInOneMessage, i,
                    $"message {i} holds {images.Count} different images; BLIP-2 answers about one image at a time: send one image per message (the conversation follows the latest)");
            if (latest is null || !SameImage(latest, images[0]))
            {
                latest = images[0];
                start = i;
            }
        }
        return latest is null
            ? throw new InvalidConversationException(ConversationProblem.NoImage, null,
                "BLIP-2 needs an image: add an image (a DataContent with an image/* media type, or a file UriContent) to a user message")
            : (latest, start);
    }

    private static bool SameImage(AIContent a, AIContent b) => (a, b) switch
    {
        (DataContent x, DataContent y) => x.Data.Span.SequenceEqual(y.Data.Span),
        (UriContent x, UriContent y) => x.Uri == y.Uri,
        _ => false,
    };
}
