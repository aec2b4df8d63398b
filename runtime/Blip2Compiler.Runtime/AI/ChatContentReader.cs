using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>Finds the image and the text of a chat turn: BLIP-2 answers about one image at a time.</summary>
internal static class ChatContentReader
{
    public static ImageSource ToImageSource(AIContent content) => content switch
    {
        DataContent data when data.HasTopLevelMediaType("image") => ImageSource.FromBytes(data.Data, data.Name ?? data.MediaType),
        UriContent uri when uri.HasTopLevelMediaType("image") && uri.Uri.IsFile => ImageSource.FromFile(uri.Uri.LocalPath),
        _ => throw new InvalidConversationException(ConversationProblem.NotAnImage, null,
            $"content of type {content.GetType().Name} is not an image: give a DataContent with an image/* media type or a file UriContent"),
    };

    public static bool IsImage(AIContent content) =>
        content is DataContent data && data.HasTopLevelMediaType("image")
        || content is UriContent uri && uri.HasTopLevelMediaType("image") && uri.Uri.IsFile;

    /// <summary>The last image of the conversation and the text of the last user message.</summary>
    public static (ImageSource Image, string Text) Read(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.ToList();
        var image = list.SelectMany(m => m.Contents).LastOrDefault(IsImage)
            ?? throw new InvalidConversationException(ConversationProblem.NoImage, null,
                "BLIP-2 needs an image: add a DataContent with an image/* media type to the user message");
        var lastUser = list.LastOrDefault(m => m.Role == ChatRole.User);
        var text = lastUser is null ? "" : string.Join(" ", lastUser.Contents.OfType<TextContent>().Select(t => t.Text)).Trim();
        return (ToImageSource(image), text);
    }
}
