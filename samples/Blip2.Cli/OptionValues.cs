using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Blip2.Cli;

/// <summary>
/// Numeric options whose parse errors say what was expected in words ("a whole number"), not System.CommandLine's
/// default "as expected type 'System.Nullable`1[System.Int32]'".
/// </summary>
internal static class OptionValues
{
    public static Option<int?> WholeNumber(string name, string description, params string[] aliases) => new(name, aliases)
    {
        Description = description, HelpName = "N",
        CustomParser = result => Parse(result, name, "a whole number", text =>
            int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : (int?)null),
    };

    public static Option<long?> LongNumber(string name, string description) => new(name)
    {
        Description = description, HelpName = "N",
        CustomParser = result => Parse(result, name, "a whole number", text =>
            long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : (long?)null),
    };

    public static Option<double?> Number(string name, string description) => new(name)
    {
        Description = description, HelpName = "X",
        CustomParser = result => Parse(result, name, "a number such as 0.9", text =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : (double?)null),
    };

    private static T? Parse<T>(ArgumentResult result, string name, string expected, Func<string, T?> parse)
    {
        if (result.Tokens.Count == 0) { result.AddError($"{name} needs a value: {expected}"); return default; }
        var text = result.Tokens[0].Value;
        var value = parse(text);
        if (value is null) result.AddError($"{name} expects {expected}, got '{text}'");
        return value;
    }
}
