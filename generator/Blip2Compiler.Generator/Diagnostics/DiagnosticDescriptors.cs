using System;
using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Blip2Compiler.Generator;

/// <summary>
/// Every diagnostic the generator reports. BLIP200x: the declaration and its config file (the pipeline);
/// BLIP201x–202x: the model itself (raised by the graph compiler); BLIP2099: a bug in the generator.
/// </summary>
internal static class DiagnosticDescriptors
{
    public const string Category = "Blip2Compiler";

    public static readonly DiagnosticDescriptor ConfigFileNotFound = Error(
        "BLIP2001", "Config file not found",
        "The config file '{0}' of '{1}' is not among the AdditionalFiles: add <AdditionalFiles Include=\"{0}\" /> to the project file");

    public static readonly DiagnosticDescriptor InvalidJson = Error(
        "BLIP2002", "Invalid JSON in a config file",
        "Invalid JSON in '{0}' at line {1}, column {2}: {3}");

    public static readonly DiagnosticDescriptor InvalidModelClass = Error(
        "BLIP2003", "Invalid [Blip2Model] class",
        "The [Blip2Model] class '{0}' must be {1}");

    public static readonly DiagnosticDescriptor ConfigSourceConflict = Error(
        "BLIP2004", "Declare the configuration one way",
        "'{0}': {1}");

    public static readonly DiagnosticDescriptor AmbiguousConfigPath = Error(
        "BLIP2005", "Ambiguous config path",
        "The config path '{0}' of '{1}' matches several AdditionalFiles ({2}): give more of the path");

    public static readonly DiagnosticDescriptor WrongValueType = Error(
        "BLIP2006", "Config value of the wrong type",
        "'{0}' must be {1}, but it is {2}");

    // The graph compiler's: Select (BLIP2012, BLIP2014), Check (BLIP2010, BLIP2013, BLIP2015), typed config reads (BLIP2011, BLIP2015), graphs (BLIP2020).
    public static readonly DiagnosticDescriptor NotDivisible = Error(
        "BLIP2010", "Size not divisible",
        "{0} = {1} is not divisible by {2} = {3}");

    public static readonly DiagnosticDescriptor UnknownActivation = Error(
        "BLIP2011", "Unknown activation",
        "unknown activation '{0}' in {1}");

    public static readonly DiagnosticDescriptor UnsupportedModelKind = Error(
        "BLIP2012", "Unsupported model kind",
        "unsupported {1} '{0}' (expected {2})");

    public static readonly DiagnosticDescriptor InconsistentSizes = Error(
        "BLIP2013", "Inconsistent sizes",
        "inconsistent sizes: {0}");

    public static readonly DiagnosticDescriptor UnsupportedArchitecture = Error(
        "BLIP2014", "Unsupported architecture",
        "unsupported architecture '{0}' (the graphs' roots serve {1})");

    public static readonly DiagnosticDescriptor InvalidValue = Error(
        "BLIP2015", "Invalid config value",
        "invalid value {0} = {1}: {2}");

    public static readonly DiagnosticDescriptor GraphError = Error(
        "BLIP2020", "Graph error",
        "graph error in {0}: {1}");

    public static readonly DiagnosticDescriptor InternalError = Error(
        "BLIP2099", "Internal generator error",
        "internal generator error while generating '{0}': {1} (please report this)");

    private static readonly Dictionary<string, DiagnosticDescriptor> ById = new(StringComparer.Ordinal);

    static DiagnosticDescriptors()
    {
        foreach (var descriptor in All) ById[descriptor.Id] = descriptor;
    }

    public static IReadOnlyList<DiagnosticDescriptor> All => new[]
    {
        ConfigFileNotFound, InvalidJson, InvalidModelClass, ConfigSourceConflict, AmbiguousConfigPath, WrongValueType,
        NotDivisible, UnknownActivation, UnsupportedModelKind, InconsistentSizes, UnsupportedArchitecture,
        InvalidValue, GraphError, InternalError,
    };

    public static DiagnosticDescriptor Get(string id) =>
        ById.TryGetValue(id, out var descriptor) ? descriptor : throw new ArgumentException("No diagnostic descriptor with id " + id, nameof(id));

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
