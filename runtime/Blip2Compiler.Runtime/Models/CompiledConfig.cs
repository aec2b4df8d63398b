using System.Globalization;
using System.Text.Json;

namespace Blip2Compiler.Models;

/// <summary>
/// Compares a checkpoint's config.json with the config a model class was compiled from, field by field, with Hugging
/// Face's defaults filling what the file omits (the same defaults the generator used, emitted in
/// <see cref="ModelInfo.Config"/>): a checkpoint of another size or variant is named as such before any weight is read.
/// </summary>
public static class CompiledConfig
{
    /// <summary>
    /// The one of <paramref name="models"/> whose compiled config is <paramref name="config"/> (every field equal, Hugging
    /// Face's defaults filling what the file omits), as a tool with several compiled classes picks one for a folder.
    /// </summary>
    /// <exception cref="NotBlip2ConfigException">The config says it is of another family (model_type or architecture).</exception>
    /// <exception cref="NoMatchingModelException">No class matches: names the closest and the fields it differs in.</exception>
    public static T FindMatch<T>(CheckpointConfig config, IReadOnlyList<T> models, Func<T, ModelInfo> info, Func<T, string> name)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (models.Count == 0) throw new ArgumentException("no compiled models to choose from", nameof(models));
        if (OtherFamily(config.Root) is var (type, architecture))
            throw new NotBlip2ConfigException(config.Path, type, architecture);
        var candidates = models.Select(m => (Model: m, Problems: Mismatches(config.Root, info(m)))).ToList();
        foreach (var (model, problems) in candidates)
            if (problems.Count == 0) return model;
        var closest = candidates.OrderBy(c => c.Problems.Count).First();
        throw new NoMatchingModelException(config.Path, name(closest.Model), closest.Problems, [.. models.Select(name)]);
    }

    /// <summary>
    /// The model_type and first architecture of a config that says it is of another family, else null. A BLIP-2
    /// config says model_type "blip-2" (transformers' Blip2Config.model_type) and an architecture named Blip2*; one
    /// that says neither (a bare or hand-made file) is left to the field-by-field comparison.
    /// </summary>
    private static (string? ModelType, string? Architecture)? OtherFamily(JsonElement root)
    {
        var type = root.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var architecture = root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0
            && a[0].ValueKind == JsonValueKind.String ? a[0].GetString() : null;
        bool saysBlip2 = type == "blip-2" || architecture?.StartsWith("Blip2", StringComparison.Ordinal) == true;
        bool saysAnything = type is not null || architecture is not null;
        return saysAnything && !saysBlip2 ? (type, architecture) : null;
    }

    /// <summary>What differs, one line per field ("text_config.hidden_size is 2048, compiled with 2560"); empty when the
    /// checkpoint is the compiled model.</summary>
    public static IReadOnlyList<string> Mismatches(JsonElement root, ModelInfo info)
    {
        var problems = new List<string>();
        if (root.ValueKind != JsonValueKind.Object)
            return ["config.json is not a JSON object"];
        // transformers loads a config without `architectures` as Blip2ForConditionalGeneration.
        const string loadedAs = "Blip2ForConditionalGeneration";
        var architecture = Find(root, "architectures") is { ValueKind: JsonValueKind.Array } list && list.GetArrayLength() > 0
            ? Text(list[0]) : null;
        if ((architecture ?? loadedAs) != (info.ConfigArchitecture ?? loadedAs))
            problems.Add($"architectures is {architecture ?? "absent"}, compiled with {info.ConfigArchitecture ?? "none"}");
        if (info.TextModelType.Length > 0 && (Find(root, "text_config.model_type") is { } t ? Text(t) : "opt") is var type && type != info.TextModelType)
            problems.Add($"text_config.model_type is '{type}', compiled with '{info.TextModelType}'");

        var byPath = info.Config.ToDictionary(v => v.Path);
        foreach (var value in info.Config)
        {
            if (!TryResolve(root, value, byPath, depth: 0, out var actual)) continue;
            if (!Same(actual, value.Value))
                problems.Add($"{value.Path} is {Format(actual)}, compiled with {Format(value.Value)}");
        }
        return problems;
    }

    /// <summary>The checkpoint's value of a field: its own, or the default it would get. False when the file leaves
    /// a derived field out (its inputs are compared instead).</summary>
    private static bool TryResolve(JsonElement root, ConfigValue field, Dictionary<string, ConfigValue> byPath, int depth, out object? value)
    {
        value = null;
        if (depth > 8) return false;   // defaults referring in a loop: the generator rejects those; never loop here
        if (Find(root, field.Path) is { } element && (element.ValueKind != JsonValueKind.Null || field.Value is null))
        {
            value = Read(element);
            return true;
        }
        if (field.Derived) return false;
        if (field.DefaultFrom is null)
        {
            value = field.Default;
            return true;
        }
        if (byPath.TryGetValue(field.DefaultFrom, out var source)) return TryResolve(root, source, byPath, depth + 1, out value);
        if (Find(root, field.DefaultFrom) is not { } other) return false;
        value = Read(other);
        return true;
    }

    /// <summary>A JSON value as a number, string, bool or null; a list where one value is expected gives its first item
    /// (several EOS ids), as the generator reads it.</summary>
    private static object? Read(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Array && element.GetArrayLength() > 0) element = element[0];
        return element.ValueKind switch
        {
            JsonValueKind.Number => element.GetDouble(),
            JsonValueKind.String => element.GetString(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => element.GetRawText(),
        };
    }

    private static bool Same(object? actual, object? compiled) => (actual, compiled) switch
    {
        (null, null) => true,
        (double a, long c) => a == c,
        (double a, double c) => a == c,
        (long a, long c) => a == c,
        (long a, double c) => a == c,
        _ => Equals(actual, compiled),
    };

    private static string Format(object? value) => value switch
    {
        null => "none",
        string s => $"'{s}'",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "?",
    };

    /// <summary>A string value, or the raw JSON of anything else (compared, never thrown on).</summary>
    private static string Text(JsonElement element) =>
        element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText();

    private static JsonElement? Find(JsonElement root, string path)
    {
        var current = root;
        foreach (var part in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current)) return null;
        }
        return current;
    }
}
