using System.Collections.Generic;
using System.Linq;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>Reports config values whose JSON type does not fit a known key (BLIP2006), located on the value.</summary>
internal static class ConfigTypeChecker
{
    public static IEnumerable<DiagnosticInfo> Check(ConfigDocument document)
    {
        foreach (var entry in document.Entries)
        {
            if (!KnownConfigKeys.Types.TryGetValue(entry.Path, out var expected)) continue;
            if (Fits(entry, expected)) continue;
            var wanted = KnownConfigKeys.Describe(expected.Type) + (expected.Nullable ? " or null" : "");
            yield return DiagnosticInfo.Create(DiagnosticDescriptors.WrongValueType, entry.Location, entry.Path, wanted, DescribeActual(entry));
        }
    }

    private static bool Fits(ConfigEntry entry, KeyType expected)
    {
        if (entry.Kind == ConfigKind.Null) return expected.Nullable;
        return expected.Type switch
        {
            ConfigValueType.Integer => IsInteger(entry),
            ConfigValueType.Float => entry.Kind == ConfigKind.Number,
            ConfigValueType.Bool => entry.Kind == ConfigKind.Bool,
            ConfigValueType.String => entry.Kind == ConfigKind.String,
            ConfigValueType.StringArray => entry.Kind == ConfigKind.Array,
            _ => IsInteger(entry) || (entry.Kind == ConfigKind.Array && entry.Items.All(IsIntegerLiteral)),
        };
    }

    private static bool IsInteger(ConfigEntry entry) => entry.Kind == ConfigKind.Number && IsIntegerLiteral(entry.Value);

    /// <summary>An integer as Python's json writes one: optional minus and digits (no fraction, exponent, NaN).</summary>
    private static bool IsIntegerLiteral(string text)
    {
        var start = text.StartsWith("-") ? 1 : 0;
        if (text.Length == start) return false;
        for (var i = start; i < text.Length; i++)
        {
            if (text[i] < '0' || text[i] > '9') return false;
        }
        return true;
    }

    private static string DescribeActual(ConfigEntry entry) => entry.Kind switch
    {
        ConfigKind.String => "the string \"" + entry.Value + "\"",
        ConfigKind.Number => "the number " + entry.Value,
        ConfigKind.Bool => entry.Value,
        ConfigKind.Null => "null",
        _ => "the array " + entry.Value,
    };
}
