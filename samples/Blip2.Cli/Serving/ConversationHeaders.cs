namespace Blip2.Cli.Serving;

/// <summary>
/// Response headers of <c>/v1/chat/completions</c> that say what of the conversation its prompt kept
/// (<see cref="Blip2Compiler.AI.ConversationFit"/>): headers, so a streamed answer has them too, and OpenAI's clients,
/// which read the body only, are not disturbed.
/// </summary>
public static class ConversationHeaders
{
    /// <summary>Answered turns in the prompt.</summary>
    public const string TurnsKept = "X-Blip2-Conversation-Turns";

    /// <summary>Oldest turns left out so the prompt and the new tokens fit the model's positions.</summary>
    public const string TurnsDropped = "X-Blip2-Turns-Dropped";

    /// <summary>Turns about an earlier image, left out (the conversation follows its latest image).</summary>
    public const string EarlierImageTurns = "X-Blip2-Turns-About-Earlier-Images";
}
