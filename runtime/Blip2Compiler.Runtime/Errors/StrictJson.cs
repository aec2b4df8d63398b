using System.Text.Json;
using System.Text.Unicode;

namespace Blip2Compiler;

/// <summary>
/// Parses JSON bytes from a file, refusing invalid UTF-8 up front. System.Text.Json decodes strings lazily, so a
/// damaged file would otherwise fail later, on first read of a name, with an InvalidOperationException that no
/// caller expects; here it is a <see cref="JsonException"/> like any other malformed JSON.
/// </summary>
internal static class StrictJson
{
    public static JsonDocument Parse(byte[] utf8, JsonDocumentOptions options = default)
    {
        if (!Utf8.IsValid(utf8)) throw new JsonException("the file is not valid UTF-8 text");
        return JsonDocument.Parse(utf8, options);
    }
}
