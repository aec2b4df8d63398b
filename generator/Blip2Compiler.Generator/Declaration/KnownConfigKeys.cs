using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs;
using Blip2Compiler.Generator.Graphs.Parse;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>The JSON type a known configuration key must have.</summary>
internal enum ConfigValueType { Integer, Float, Bool, String, StringArray, IntegerOrIntegerArray }

/// <summary>Expected type of a known key; <see cref="Nullable"/> when Hugging Face allows <c>null</c> (None) there.</summary>
internal readonly record struct KeyType(ConfigValueType Type, bool Nullable = false);

/// <summary>
/// The JSON type of every config.json key the compiler knows, so a wrong type (a string where an integer belongs) is
/// reported on the value itself (BLIP2006) instead of surfacing later as a confusing model error. Derived from the
/// schemas in graphs/config.graph, which declare every key (read by the graphs or only accepted); unknown keys are
/// allowed and ignored here.
/// </summary>
internal static class KnownConfigKeys
{
    private static readonly object Gate = new object();
    private static IReadOnlyDictionary<string, KeyType>? _types;

    /// <summary>The table from the embedded graphs; empty when they do not parse (the compile stage reports BLIP2020).</summary>
    public static IReadOnlyDictionary<string, KeyType> Types
    {
        get
        {
            lock (Gate)
            {
                if (_types is not null) return _types;
                try { _types = From(GraphLibrary.Load().SelectMany(f => f.Configs)); }
                catch (GraphException) { _types = new Dictionary<string, KeyType>(); }
                return _types;
            }
        }
    }

    public static string Describe(ConfigValueType type) => type switch
    {
        ConfigValueType.Integer => "an integer",
        ConfigValueType.Float => "a number",
        ConfigValueType.Bool => "true or false",
        ConfigValueType.String => "a string",
        ConfigValueType.StringArray => "an array of strings",
        _ => "an integer or an array of integers",
    };

    /// <summary>
    /// Each schema field's JSON path and type: <c>int</c> → an integer (or a list of them with <c>accepts list</c>),
    /// <c>string</c> with <c>accepts list</c> → a list of strings, <c>act</c> → a string; null allowed for <c>int?</c>
    /// and <c>accepts null</c>. A key two schemas declare (text_config's vocab_size in opt and t5) must agree in type;
    /// null is allowed when either allows it.
    /// </summary>
    internal static Dictionary<string, KeyType> From(IEnumerable<ConfigSchema> schemas)
    {
        var table = new Dictionary<string, KeyType>();
        foreach (var schema in schemas)
            foreach (var field in schema.Fields)
            {
                var path = schema.Section.Length == 0 ? field.Name : schema.Section + "." + field.Name;
                var type = field.Type switch
                {
                    "int" => field.AcceptsList ? ConfigValueType.IntegerOrIntegerArray : ConfigValueType.Integer,
                    "float" => ConfigValueType.Float,
                    "bool" => ConfigValueType.Bool,
                    _ => field.AcceptsList ? ConfigValueType.StringArray : ConfigValueType.String,
                };
                var nullable = field.Nullable || field.AcceptsNull;
                if (table.TryGetValue(path, out var earlier))
                {
                    if (earlier.Type != type)
                        throw new GraphException(field.Span.File, field.Span.Line, "'" + path + "' is " + Describe(type) + " here but " + Describe(earlier.Type) + " in another schema");
                    nullable |= earlier.Nullable;
                }
                table[path] = new KeyType(type, nullable);
            }
        return table;
    }
}
