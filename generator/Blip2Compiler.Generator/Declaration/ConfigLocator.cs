using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace Blip2Compiler.Generator.Declaration;

/// <summary>
/// Declaration step LocatedRequests: finds the AdditionalFiles item a <c>[Blip2Model("…/config.json")]</c> path names. AdditionalFiles have
/// full paths while the attribute's is relative to the project, so the path matches a file whose path ends with it
/// (on a folder boundary, either separator). When several do, the one that is exactly the path taken relative to
/// the C# file wins; otherwise the path is ambiguous.
/// </summary>
internal static class ConfigLocator
{
    public static LocatedRequest Locate((ModelRequest Request, EquatableArray<string> Files) input, CancellationToken _)
    {
        var request = input.Request;
        if (!request.Diagnostics.IsEmpty || request.ConfigPath is null)
            return new LocatedRequest(request, null, request.Diagnostics);

        var wanted = Normalize(request.ConfigPath);
        var location = request.ConfigPathLocation ?? request.AttributeLocation;
        var matches = Matches(wanted, input.Files, StringComparison.Ordinal);
        if (matches.Count == 0) matches = Matches(wanted, input.Files, StringComparison.OrdinalIgnoreCase);

        if (matches.Count == 0)
        {
            return Fail(request, DiagnosticInfo.Create(DiagnosticDescriptors.ConfigFileNotFound, location, request.ConfigPath, request.DisplayName));
        }
        if (matches.Count > 1)
        {
            var relativeToSource = RelativeToSource(request.SourceFilePath, wanted);
            var exact = relativeToSource is null ? null : matches.FirstOrDefault(m => string.Equals(Normalize(m), relativeToSource, StringComparison.Ordinal));
            if (exact is null)
            {
                var list = string.Join(", ", matches.Select(m => "'" + m + "'"));
                return Fail(request, DiagnosticInfo.Create(DiagnosticDescriptors.AmbiguousConfigPath, location, request.ConfigPath, request.DisplayName, list));
            }
            return new LocatedRequest(request, exact, EquatableArray<DiagnosticInfo>.Empty);
        }
        return new LocatedRequest(request, matches[0], EquatableArray<DiagnosticInfo>.Empty);
    }

    /// <summary>Whether <paramref name="filePath"/> is the file <paramref name="wanted"/> (normalized) names.</summary>
    public static bool IsMatch(string filePath, string wanted, StringComparison comparison)
    {
        var path = Normalize(filePath);
        if (string.Equals(path, wanted, comparison)) return true;
        if (wanted.StartsWith("/", StringComparison.Ordinal)) return false;
        return path.Length > wanted.Length
            && path[path.Length - wanted.Length - 1] == '/'
            && path.EndsWith(wanted, comparison);
    }

    /// <summary>Forward slashes, no "." segments, ".." folded where it can be, no trailing slash.</summary>
    public static string Normalize(string path)
    {
        var rooted = path.StartsWith("/", StringComparison.Ordinal) || path.StartsWith("\\", StringComparison.Ordinal);
        var segments = new List<string>();
        foreach (var segment in path.Trim().Replace('\\', '/').Split('/'))
        {
            if (segment.Length == 0 || segment == ".") continue;
            if (segment == ".." && segments.Count > 0 && segments[segments.Count - 1] != "..") segments.RemoveAt(segments.Count - 1);
            else segments.Add(segment);
        }
        return (rooted ? "/" : "") + string.Join("/", segments);
    }

    private static List<string> Matches(string wanted, EquatableArray<string> files, StringComparison comparison) =>
        files.Where(f => IsMatch(f, wanted, comparison)).Distinct().ToList();

    private static string? RelativeToSource(string sourceFilePath, string wanted)
    {
        if (sourceFilePath.Length == 0) return null;
        var source = Normalize(sourceFilePath);
        var slash = source.LastIndexOf('/');
        return slash < 0 ? null : Normalize(source.Substring(0, slash) + "/" + wanted);
    }

    private static LocatedRequest Fail(ModelRequest request, DiagnosticInfo diagnostic) =>
        new(request, null, EquatableArray.Create(diagnostic));
}
