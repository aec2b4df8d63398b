namespace Blip2Compiler.Generator;

/// <summary>The JSON type of one configuration value.</summary>
internal enum ConfigKind { Number, String, Bool, Null, Array }

/// <summary>
/// One value of a model configuration, flattened: nested objects become dotted paths
/// (<c>vision_config.hidden_size</c>). <see cref="Value"/> is the literal text for numbers (<c>1e-06</c> stays as
/// written), the unescaped text for strings, <c>true</c>/<c>false</c>, <c>null</c>, or a readable list for arrays,
/// whose elements are in <see cref="Items"/> (scalars as their value text; nested arrays/objects as compact JSON).
/// <see cref="Location"/> is the value in the config.json file, or the attribute argument that declared it.
/// </summary>
internal sealed record ConfigEntry(string Path, ConfigKind Kind, string Value, EquatableArray<string> Items, LocationInfo? Location)
{
    public static ConfigEntry Scalar(string path, ConfigKind kind, string value, LocationInfo? location) =>
        new(path, kind, value, EquatableArray<string>.Empty, location);
}
