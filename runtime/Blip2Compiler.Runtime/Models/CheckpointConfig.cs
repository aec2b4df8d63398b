using System.Text.Json;
using Blip2Compiler.Checkpoints;

namespace Blip2Compiler.Models;

/// <summary>
/// A checkpoint's config.json, read once per load: <see cref="CompiledConfig.FindMatch{T}"/> picks a class with it,
/// the load checks it against the class (<see cref="ConfigGuard"/>) and the generation defaults take their token ids
/// from it, without reading the file again. Parsed strictly, as Hugging Face's <c>json.load</c> reads it: valid UTF-8,
/// no comments, no trailing commas, an object at the top level.
/// </summary>
public sealed class CheckpointConfig
{
    private CheckpointConfig(string path, JsonElement root)
    {
        Path = path;
        Root = root;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Its top-level object.</summary>
    public JsonElement Root { get; }

    /// <summary>The folder's config.json; null when it has none (weights alone: the key map's shape checks still apply).</summary>
    /// <exception cref="ConfigMismatchException">The file is not valid JSON or not a JSON object.</exception>
    public static CheckpointConfig? Read(string checkpointDirectory)
    {
        var path = System.IO.Path.Combine(checkpointDirectory, "config.json");
        if (!File.Exists(path)) return null;
        JsonElement root;
        try
        {
            using var document = JsonFiles.ParseStrict(File.ReadAllBytes(path));
            root = document.RootElement.Clone();
        }
        catch (JsonException e) { throw new ConfigMismatchException(path, "config.json is not valid JSON: " + e.Message); }
        catch (IOException e) { throw new ConfigMismatchException(path, "config.json could not be read: " + e.Message); }
        catch (UnauthorizedAccessException e) { throw new ConfigMismatchException(path, "config.json could not be read: " + e.Message); }
        if (root.ValueKind != JsonValueKind.Object)
            throw new ConfigMismatchException(path, $"config.json is not a JSON object (its top level is {root.ValueKind.ToString().ToLowerInvariant()})");
        return new CheckpointConfig(path, root);
    }
}
