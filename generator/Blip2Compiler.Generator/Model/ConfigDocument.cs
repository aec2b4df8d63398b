namespace Blip2Compiler.Generator;

/// <summary>
/// A model configuration as flat entries in document order. <see cref="SourcePath"/> is the config.json path, or the
/// C# file of the class when the configuration was declared with attributes.
/// </summary>
internal sealed record ConfigDocument(string SourcePath, EquatableArray<ConfigEntry> Entries)
{
    public ConfigEntry? Find(string path)
    {
        foreach (var entry in Entries)
        {
            if (entry.Path == path) return entry;
        }
        return null;
    }
}
