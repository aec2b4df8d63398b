using Blip2Compiler;
using Blip2Compiler.Processing;

namespace Blip2.Cli;

/// <summary>One image to process, and the name results and errors give it (its path, or &lt;stdin&gt;).</summary>
internal sealed record ImageInput(string Name, ImageSource Source);

/// <summary>
/// Image arguments: files, folders whose images (by extension, sorted, subfolders included) are all taken, or
/// <c>-</c> for one image on stdin.
/// </summary>
internal static class ImageInputs
{
    /// <summary>What the decoder really reads (ImageSharp's formats: .ppm and .tga included), not a list of our own.</summary>
    private static readonly HashSet<string> Extensions = new(ImageDecoder.Default.FileExtensions, StringComparer.OrdinalIgnoreCase);

    private static string Decodes => "it decodes " + string.Join(", ", ImageDecoder.Default.Formats);

    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>
    /// The images, and whether any argument was a folder. Every argument is checked before any work starts, so a
    /// mistyped name costs nothing: missing ones are named together.
    /// </summary>
    /// <param name="missingHint">Said after the names of missing images (embed: how to give a text instead).</param>
    public static (IReadOnlyList<ImageInput> Images, bool FromFolders) Expand(IReadOnlyList<string> arguments, RunSettings settings, string? missingHint = null)
    {
        var missing = arguments.Where(a => a != StdinImage.Argument && !Directory.Exists(a) && !File.Exists(a)).ToList();
        if (missing.Count > 0) throw Missing(missing, missingHint);
        if (arguments.Count(a => a == StdinImage.Argument) > 1) throw new UsageException("'-' (an image on stdin) can be given once");

        var images = new List<ImageInput>();
        var skipped = new List<string>();
        bool folders = false;
        foreach (var argument in arguments)
        {
            if (argument == StdinImage.Argument) images.Add(FromStdin(settings));
            else if (Directory.Exists(argument))
            {
                folders = true;
                var all = ImageFolder.Files(argument);
                var found = all.Where(IsImageFile).ToList();
                skipped.AddRange(all.Where(f => !IsImageFile(f)));
                if (found.Count == 0)
                    throw new Blip2Exception($"folder '{argument}' has no images" + (all.Count > 0 ? $" this tool decodes (its files: {Tally(all)})" : "")
                        + $"; {Decodes} ({string.Join(" ", Extensions.Order())})");
                images.AddRange(found.Select(FromFile));
            }
            else images.Add(FromFile(argument));
        }
        // Files a folder holds that are not images the decoder reads (.heic, .avif, .jp2, .txt...): counted, not silently dropped.
        if (skipped.Count > 0)
            settings.Note($"skipped {skipped.Count} file{(skipped.Count == 1 ? "" : "s")} in folders, not images this tool decodes ({Tally(skipped)}); {Decodes}");
        return (images, folders);
    }

    /// <summary>One image: an existing file, or <c>-</c> (stdin).</summary>
    public static ImageInput Single(string argument, RunSettings settings)
    {
        if (argument == StdinImage.Argument) return FromStdin(settings);
        if (Directory.Exists(argument)) throw new UsageException($"'{argument}' is a folder: give one image file");
        if (!File.Exists(argument)) throw Missing([argument]);
        return FromFile(argument);
    }

    /// <summary>"2 .heic, 1 .txt": files counted by extension, most first.</summary>
    private static string Tally(IEnumerable<string> files) => string.Join(", ", files
        .GroupBy(f => Path.GetExtension(f).ToLowerInvariant() is { Length: > 0 } e ? e : "no extension")
        .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
        .Select(g => $"{g.Count()} {g.Key}"));

    private static ImageInput FromFile(string path) => new(path, ImageSource.FromFile(path));

    private static ImageInput FromStdin(RunSettings settings) =>
        new(StdinImage.Name, StdinImage.Read(settings.Input, ImageDecoder.Default));

    /// <summary>Arguments that name nothing: a misspelled option (the parser takes those as image names), or missing files.</summary>
    public static Exception Missing(IReadOnlyList<string> arguments, string? hint = null) =>
        arguments.FirstOrDefault(a => a.StartsWith('-')) is { } option
            ? new UsageException($"unknown option '{option}' (see blip2 --help)")
            : new InputNotFoundException(arguments, hint);
}
