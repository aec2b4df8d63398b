using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>Image arguments that name no file or folder (checked before any work starts): exit code 1.</summary>
internal sealed class InputNotFoundException(IReadOnlyList<string> paths, string? hint = null) : Blip2Exception((paths.Count == 1
    ? $"image '{paths[0]}' does not exist"
    : $"{paths.Count} images do not exist: " + string.Join(", ", paths.Take(5).Select(p => $"'{p}'")) + (paths.Count > 5 ? $" and {paths.Count - 5} more" : ""))
    + (hint is null ? "" : $" ({hint})"))
{
    public IReadOnlyList<string> Paths { get; } = paths;
}
