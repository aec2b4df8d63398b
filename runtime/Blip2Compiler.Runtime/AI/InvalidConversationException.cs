namespace Blip2Compiler.AI;

/// <summary>What makes a conversation one BLIP-2 cannot answer.</summary>
public enum ConversationProblem
{
    /// <summary>No message holds an image (a DataContent with an image/* media type, or a file UriContent).</summary>
    NoImage,

    /// <summary>One message holds several different images: BLIP-2 conditions on one image, so there is no "latest" to take.</summary>
    SeveralImagesInOneMessage,

    /// <summary>The last user or assistant message is the assistant's: there is no question to answer.</summary>
    NothingToAnswer,

    /// <summary>A content given as the image is not one.</summary>
    NotAnImage,
}

/// <summary>
/// A chat conversation BLIP-2 cannot answer (<see cref="ConversationPrompt.FromMessages"/>), found before any model
/// work: the problem, and the message at fault where there is one.
/// </summary>
public sealed class InvalidConversationException(ConversationProblem problem, int? messageIndex, string message)
    : Blip2Exception(message)
{
    public ConversationProblem Problem { get; } = problem;

    /// <summary>The index of the message at fault in the conversation (0-based); null when no one message is.</summary>
    public int? MessageIndex { get; } = messageIndex;
}
