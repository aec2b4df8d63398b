using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>
/// The prompt a conversation became once fitted to the model (<see cref="ConversationPrompt.Fit(Func{string?, bool})"/>),
/// and what was left out of it: the oldest turns that did not fit the language model's positions, and the turns about
/// an earlier image.
/// </summary>
/// <param name="Prompt">The prompt to generate from; null for a plain caption.</param>
/// <param name="TurnsKept">Answered turns in the prompt, before the question.</param>
/// <param name="TurnsDropped">Oldest turns about this image left out so the prompt and the new tokens fit the model.</param>
/// <param name="EarlierImageTurns">Answered turns about an earlier image, left out (the conversation follows its latest image).</param>
public sealed record ConversationFit(string? Prompt, int TurnsKept, int TurnsDropped, int EarlierImageTurns)
{
    /// <summary>The <see cref="ChatResponse.AdditionalProperties"/> key of <see cref="Prompt"/> (absent for a caption).</summary>
    public const string PromptKey = "prompt";

    /// <summary>The key of <see cref="TurnsKept"/>.</summary>
    public const string TurnsKeptKey = "conversation_turns";

    /// <summary>The key of <see cref="TurnsDropped"/>.</summary>
    public const string TurnsDroppedKey = "turns_dropped";

    /// <summary>The key of <see cref="EarlierImageTurns"/>.</summary>
    public const string EarlierImageTurnsKey = "turns_about_earlier_images";

    /// <summary>What a chat response says about its prompt: the keys above.</summary>
    public AdditionalPropertiesDictionary ToAdditionalProperties()
    {
        var properties = new AdditionalPropertiesDictionary
        {
            [TurnsKeptKey] = TurnsKept,
            [TurnsDroppedKey] = TurnsDropped,
            [EarlierImageTurnsKey] = EarlierImageTurns,
        };
        if (Prompt is not null) properties[PromptKey] = Prompt;
        return properties;
    }
}
