using System.Globalization;

namespace Blip2Compiler.Generator.Graphs.Bind
{
    /// <summary>A compile-time value: integer, float, bool, string or none.</summary>
    internal sealed record ConstValue(object? Raw)
    {
        public static readonly ConstValue None = new ConstValue((object?)null);
        public static ConstValue Of(long v) => new ConstValue(v);
        public static ConstValue Of(double v) => new ConstValue(v);
        public static ConstValue Of(bool v) => new ConstValue(v);
        public static ConstValue Of(string v) => new ConstValue(v);

        public bool IsNone => Raw is null;
        public bool IsInt => Raw is long;
        public bool IsNumber => Raw is long || Raw is double;
        public long AsInt => Raw is long l ? l : Raw is double d && d == System.Math.Floor(d) ? (long)d : throw new BindException("expected an integer, got " + this);
        public double AsDouble => Raw is long l ? l : Raw is double d ? d : throw new BindException("expected a number, got " + this);
        public bool AsBool => Raw is bool b ? b : throw new BindException("expected true or false, got " + this);
        public string AsString => Raw is string s ? s : throw new BindException("expected a string, got " + this);

        /// <summary>C# literal for emitted code.</summary>
        public string ToCSharp() => Raw switch
        {
            null => "null",
            bool b => b ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => FormatDouble(d),
            string s => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"",
            _ => Raw.ToString()!,
        };

        public static string FormatDouble(double d)
        {
            var text = d.ToString("R", CultureInfo.InvariantCulture);
            if (text.IndexOf('.') < 0 && text.IndexOf('E') < 0 && text.IndexOf('e') < 0) text += ".0";
            return text;
        }

        /// <summary>The value as config.json would write it, strings unquoted, for messages ("invalid value x = 0").</summary>
        public string ToConfigText() => Raw switch
        {
            null => "null",
            string s => s,
            _ => ToCSharp(),
        };

        public override string ToString() => Raw is null ? "none" : Raw is string s ? "\"" + s + "\"" : ToCSharp();
    }
}
