using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>Turns a config.json text into a flat <see cref="ConfigDocument"/> whose entries point into the file.</summary>
internal static class ConfigFileParser
{
    public static ParsedConfigFile Parse(string path, SourceText? text)
    {
        if (text is null)
        {
            var unreadable = DiagnosticInfo.Create(DiagnosticDescriptors.InvalidJson, null, path, "1", "1", "the file could not be read");
            return new ParsedConfigFile(path, null, unreadable);
        }

        var content = text.ToString();
        JsonNode root;
        try
        {
            root = JsonReader.Parse(content);
        }
        catch (JsonSyntaxException e)
        {
            return new ParsedConfigFile(path, null, SyntaxError(path, text, e.Position, e.Message));
        }
        if (root.Kind != JsonKind.Object)
        {
            return new ParsedConfigFile(path, null, SyntaxError(path, text, root.Span.Start, "the top level of a config file must be an object { ... }"));
        }

        var entries = new List<ConfigEntry>();
        var indexByPath = new Dictionary<string, int>();
        Flatten(root, "", path, text, entries, indexByPath);
        return new ParsedConfigFile(path, new ConfigDocument(path, entries.ToEquatableArray()), null);
    }

    private static void Flatten(JsonNode obj, string prefix, string path, SourceText text, List<ConfigEntry> entries, Dictionary<string, int> indexByPath)
    {
        foreach (var member in obj.Members)
        {
            var key = prefix + member.Name;
            var value = member.Value;
            if (value.Kind == JsonKind.Object)
            {
                Flatten(value, key + ".", path, text, entries, indexByPath);
                continue;
            }

            var location = new LocationInfo(path, value.Span, text.Lines.GetLinePositionSpan(value.Span));
            var entry = value.Kind == JsonKind.Array
                ? ArrayEntry(key, value, location)
                : ConfigEntry.Scalar(key, ScalarKind(value.Kind), value.Text, location);

            // A repeated key replaces the earlier value, as Python's json module does.
            if (indexByPath.TryGetValue(key, out var existing)) entries[existing] = entry;
            else
            {
                indexByPath[key] = entries.Count;
                entries.Add(entry);
            }
        }
    }

    private static ConfigEntry ArrayEntry(string key, JsonNode array, LocationInfo location)
    {
        var items = array.Items.Select(ItemText).ToList();
        var display = "[" + string.Join(", ", array.Items.Select(Compact)) + "]";
        return new ConfigEntry(key, ConfigKind.Array, display, items.ToEquatableArray(), location);
    }

    private static ConfigKind ScalarKind(JsonKind kind) => kind switch
    {
        JsonKind.Number => ConfigKind.Number,
        JsonKind.String => ConfigKind.String,
        JsonKind.True or JsonKind.False => ConfigKind.Bool,
        _ => ConfigKind.Null,
    };

    private static string ItemText(JsonNode item) =>
        item.Kind is JsonKind.Array or JsonKind.Object ? Compact(item) : item.Text;

    /// <summary>Compact JSON text of a value (for nested arrays/objects inside arrays, and for messages).</summary>
    internal static string Compact(JsonNode node)
    {
        switch (node.Kind)
        {
            case JsonKind.String: return Quote(node.Text);
            case JsonKind.Array: return "[" + string.Join(",", node.Items.Select(Compact)) + "]";
            case JsonKind.Object: return "{" + string.Join(",", node.Members.Select(m => Quote(m.Name) + ":" + Compact(m.Value))) + "}";
            default: return node.Text;
        }
    }

    private static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < ' ') sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    private static DiagnosticInfo SyntaxError(string path, SourceText text, int position, string message)
    {
        position = System.Math.Max(0, System.Math.Min(position, text.Length));
        var span = new TextSpan(position, position < text.Length ? 1 : 0);
        var lineSpan = text.Lines.GetLinePositionSpan(span);
        var location = new LocationInfo(path, span, lineSpan);
        return DiagnosticInfo.Create(
            DiagnosticDescriptors.InvalidJson, location, path,
            (lineSpan.Start.Line + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
            (lineSpan.Start.Character + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
            message);
    }
}
