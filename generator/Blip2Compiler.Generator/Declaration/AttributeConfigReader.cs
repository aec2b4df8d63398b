using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>
/// Reads a configuration declared with attributes into the same flat entries a config.json gives: property names
/// become HF's snake_case keys (<c>NumHiddenLayers</c> → <c>vision_config.num_hidden_layers</c>). Only the properties
/// the user set appear; the rest keep HF's defaults, as a sparse config.json does.
/// </summary>
internal static class AttributeConfigReader
{
    /// <summary>Properties whose HF key is not the plain snake_case of the name.</summary>
    internal static readonly IReadOnlyDictionary<string, string> KeyOverrides = new Dictionary<string, string>
    {
        ["Architecture"] = "architectures",
        ["RemoveFinalLayerNorm"] = "_remove_final_layer_norm",
        ["UseQFormerTextInput"] = "use_qformer_text_input",
    };

    /// <summary>The section prefix of each config attribute, by metadata name.</summary>
    internal static readonly IReadOnlyDictionary<string, string> Sections = new Dictionary<string, string>
    {
        [AttributeNames.Blip2Model] = "",
        [AttributeNames.VisionConfig] = "vision_config.",
        [AttributeNames.QFormerConfig] = "qformer_config.",
        [AttributeNames.OptTextConfig] = "text_config.",
        [AttributeNames.T5TextConfig] = "text_config.",
    };

    /// <summary>The HF key of an attribute property, e.g. ("vision_config.", "LayerNormEps") → "vision_config.layer_norm_eps".</summary>
    public static string KeyOf(string section, string propertyName) =>
        section + (KeyOverrides.TryGetValue(propertyName, out var key) ? key : ToSnakeCase(propertyName));

    public static IEnumerable<ConfigEntry> Read(AttributeData attribute, string section, CancellationToken cancellationToken)
    {
        var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
        var attributeLocation = LocationInfo.From(syntax);
        var metadataName = attribute.AttributeClass?.ToDisplayString();
        if (metadataName == AttributeNames.OptTextConfig)
            yield return ConfigEntry.Scalar("text_config.model_type", ConfigKind.String, "opt", attributeLocation);
        else if (metadataName == AttributeNames.T5TextConfig)
            yield return ConfigEntry.Scalar("text_config.model_type", ConfigKind.String, "t5", attributeLocation);

        foreach (var argument in attribute.NamedArguments)
        {
            var name = argument.Key;
            var location = LocationInfo.From(syntax?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == name)) ?? attributeLocation;
            var key = KeyOf(section, name);
            var value = argument.Value;
            if (name == "Architecture")
            {
                if (value.Value is string architecture)
                    yield return new ConfigEntry(key, ConfigKind.Array, "[\"" + architecture + "\"]", EquatableArray.Create(architecture), location);
                else
                    yield return ConfigEntry.Scalar(key, ConfigKind.Null, "null", location);
                continue;
            }
            yield return value.Value switch
            {
                null => ConfigEntry.Scalar(key, ConfigKind.Null, "null", location),
                bool b => ConfigEntry.Scalar(key, ConfigKind.Bool, b ? "true" : "false", location),
                string s => ConfigEntry.Scalar(key, ConfigKind.String, s, location),
                double d => ConfigEntry.Scalar(key, ConfigKind.Number, PythonStyle(d.ToString("R", CultureInfo.InvariantCulture)), location),
                float f => ConfigEntry.Scalar(key, ConfigKind.Number, PythonStyle(f.ToString("R", CultureInfo.InvariantCulture)), location),
                var other => ConfigEntry.Scalar(key, ConfigKind.Number, System.Convert.ToString(other, CultureInfo.InvariantCulture) ?? "", location),
            };
        }
    }

    /// <summary>"1E-06" → "1e-06", the way the number would appear in a config.json written by Python.</summary>
    private static string PythonStyle(string number) => number.Replace("E", "e");

    /// <summary>PascalCase → snake_case: <c>NumHiddenLayers</c> → <c>num_hidden_layers</c>, <c>DModel</c> → <c>d_model</c>.</summary>
    public static string ToSnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                var previousIsLowerOrDigit = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                var acronymEnds = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (previousIsLowerOrDigit || acronymEnds) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }
}
