using System.Text.Json;
using System.Text.Unicode;

namespace Blip2Compiler.Checkpoints;

/// <summary>How the runtime reads a checkpoint's JSON files; callers turn <see cref="JsonException"/> into their own
/// typed error.</summary>
internal static class JsonFiles
{
    /// <summary>
    /// Parses JSON bytes, refusing invalid UTF-8 up front. System.Text.Json decodes strings lazily, so a damaged file
    /// would otherwise fail later, on first read of a name, with an InvalidOperationException that no caller expects;
    /// here it is a <see cref="JsonException"/> like any other malformed JSON.
    /// </summary>
    public static JsonDocument ParseStrict(byte[] utf8, JsonDocumentOptions options = default)
    {
        if (!Utf8.IsValid(utf8)) throw new JsonException("the file is not valid UTF-8 text");
        return JsonDocument.Parse(utf8, options);
    }

    /// <summary>A config file's top-level value, kept after the document is freed (text read as .NET reads text).</summary>
    public static JsonElement ReadRoot(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.Clone();
    }
}
