using Microsoft.CodeAnalysis;

namespace Blip2Compiler.Generator.Graphs.Bind
{
    /// <summary>
    /// A config value or graph expression that cannot be bound. With a config path it is the config's fault and
    /// reported there (BLIP2015 by default, or the descriptor given, e.g. BLIP2011 for an unknown activation);
    /// without one it is the graph's (BLIP2020).
    /// </summary>
    internal sealed class BindException : System.Exception
    {
        public BindException(string message, string? configPath = null, string? value = null, DiagnosticDescriptor? descriptor = null, string[]? args = null)
            : base(message)
        {
            ConfigPath = configPath;
            Value = value;
            Descriptor = descriptor;
            Args = args;
        }

        public string? ConfigPath { get; }
        /// <summary>The offending config value as written (BLIP2015's "path = value").</summary>
        public string? Value { get; }
        public DiagnosticDescriptor? Descriptor { get; }
        public string[]? Args { get; }

        /// <param name="subject">What was being compiled (a root or block name), for a graph error.</param>
        public DiagnosticInfo ToDiagnostic(ConfigDocument document, LocationInfo fallback, string subject)
        {
            var location = (ConfigPath is null ? null : document.Find(ConfigPath)?.Location) ?? fallback;
            if (Descriptor is not null) return DiagnosticInfo.Create(Descriptor, location, Args ?? new[] { Message });
            if (ConfigPath is null) return DiagnosticInfo.Create(DiagnosticDescriptors.GraphError, location, subject, Message);
            return DiagnosticInfo.Create(DiagnosticDescriptors.InvalidValue, location, ConfigPath, Value ?? "(as configured)", Message);
        }
    }
}
