using System.Text.Json;
using Blip2Compiler.Checkpoints;

namespace Blip2Compiler.Processing;

/// <summary>Reads one JSON file of a checkpoint, turning every failure into a <see cref="TokenizerFileException"/>.</summary>
internal static class TokenizerJsonFile
{
    public static JsonElement Read(string path)
    {
        try
        {
            using var document = JsonFiles.ParseStrict(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new TokenizerFileException(path, $"expected a JSON object, found {document.RootElement.ValueKind}");
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new TokenizerFileException(path, "invalid JSON: " + e.Message, e);
        }
        catch (IOException e)
        {
            throw new TokenizerFileException(path, "cannot be read: " + e.Message, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TokenizerFileException(path, "cannot be read: " + e.Message, e);
        }
    }

    public static string[] ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFileException(path, "cannot be read: " + e.Message, e);
        }
    }

    public static bool? Bool(JsonElement obj, string key) =>
        obj.TryGetProperty(key, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null;

    public static string? String(JsonElement obj, string key) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>A token written as a string or as an <c>AddedToken</c> object (<c>{"content": ...}</c>).</summary>
    public static string? TokenContent(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Object => String(value, "content"),
        _ => null,
    };

    /// <summary>An <c>AddedToken</c> object of tokenizer.json's <c>added_tokens</c> or tokenizer_config.json's <c>added_tokens_decoder</c>.</summary>
    public static AddedToken ParseAddedToken(JsonElement obj, int id, string path)
    {
        var content = String(obj, "content") ?? throw new TokenizerFileException(path, $"added token {id} has no \"content\"");
        return new AddedToken(content, id, Bool(obj, "special") ?? false, Bool(obj, "lstrip") ?? false,
            Bool(obj, "rstrip") ?? false, Bool(obj, "single_word") ?? false);
    }
}
