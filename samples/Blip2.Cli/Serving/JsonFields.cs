using System.Text.Json;

namespace Blip2.Cli.Serving;

/// <summary>Typed reads of request fields, each naming the field it rejects (OpenAI's <c>param</c>).</summary>
internal static class JsonFields
{
    public static JsonElement? Get(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static string? String(JsonElement obj, string name, string? path = null)
    {
        if (Get(obj, name) is not { } v) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(path ?? name, "a string", v);
    }

    public static bool? Bool(JsonElement obj, string name)
    {
        if (Get(obj, name) is not { } v) return null;
        return v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(name, "a boolean", v);
    }

    public static int? Int(JsonElement obj, string name, int min, int max)
    {
        if (Get(obj, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n)) throw Wrong(name, "an integer", v);
        if (n < min || n > max) throw ApiException.BadRequest($"'{name}' must be between {min} and {max}, got {n}", name, "invalid_value");
        return (int)n;
    }

    public static long? Long(JsonElement obj, string name)
    {
        if (Get(obj, name) is not { } v) return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : throw Wrong(name, "an integer", v);
    }

    public static double? Number(JsonElement obj, string name, double min, double max)
    {
        if (Get(obj, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw Wrong(name, "a number", v);
        var x = v.GetDouble();
        if (!(x >= min && x <= max)) throw ApiException.BadRequest($"'{name}' must be between {min} and {max}, got {x}", name, "invalid_value");
        return x;
    }

    public static ApiException Wrong(string path, string expected, JsonElement got) =>
        ApiException.BadRequest($"'{path}' must be {expected}, got {got.ValueKind.ToString().ToLowerInvariant()}", path, "invalid_type");
}
