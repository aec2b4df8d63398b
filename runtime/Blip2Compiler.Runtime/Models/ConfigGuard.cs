using System.Text.Json;

namespace Blip2Compiler.Models;

/// <summary>
/// The model class was compiled from one config; a checkpoint folder whose config.json disagrees on the sizes
/// that shape the graph is rejected by name before its weights are read.
/// </summary>
internal static class ConfigGuard
{
    public static void EnsureMatches(string checkpointDirectory, ModelInfo info)
    {
        var path = Path.Combine(checkpointDirectory, "config.json");
        if (!File.Exists(path)) return; // weights alone: the key map's shape checks still apply
        JsonElement root;
        try { root = JsonDocument.Parse(File.ReadAllText(path)).RootElement; }
        catch (JsonException e) { throw new ConfigMismatchException(path, "config.json is not valid JSON: " + e.Message); }

        Check(root, path, "num_query_tokens", info.NumQueryTokens);
        Check(root, path, "vision_config.image_size", info.ImageSize);
        Check(root, path, "vision_config.patch_size", info.PatchSize);
        if (info.TextModelType.Length > 0 && Get(root, "text_config.model_type") is { ValueKind: JsonValueKind.String } type && type.GetString() != info.TextModelType)
            throw new ConfigMismatchException(path, $"text_config.model_type is '{type.GetString()}' but the model was compiled for '{info.TextModelType}'");
        if (info.VocabSize > 0) Check(root, path, "text_config.vocab_size", info.VocabSize);
    }

    private static void Check(JsonElement root, string path, string key, long expected)
    {
        if (expected == 0 || Get(root, key) is not { ValueKind: JsonValueKind.Number } value) return;
        if (value.GetDouble() != expected)
            throw new ConfigMismatchException(path, $"{key} is {value.GetRawText()} but the model was compiled with {expected}");
    }

    private static JsonElement? Get(JsonElement root, string dotted)
    {
        var e = root;
        foreach (var part in dotted.Split('.'))
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(part, out e)) return null;
        }
        return e;
    }
}

/// <summary>The checkpoint's config.json does not match the config the model class was compiled from.</summary>
public sealed class ConfigMismatchException : Blip2Exception
{
    public ConfigMismatchException(string file, string problem) : base($"{file}: {problem}.") { File = file; }
    public string File { get; }
}
