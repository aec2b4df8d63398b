using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>Image arguments: files, or folders whose images (by extension, sorted, subfolders included) are all taken.</summary>
internal static class ImageInputs
{
    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".tga", ".pbm", ".ppm", ".pgm",
    };

    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>The image files, and whether any argument was a folder (folders get a progress bar).</summary>
    public static (IReadOnlyList<string> Files, bool FromFolders) Expand(IEnumerable<string> arguments)
    {
        var files = new List<string>();
        bool folders = false;
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                folders = true;
                var found = Directory.EnumerateFiles(argument, "*", SearchOption.AllDirectories)
                    .Where(IsImageFile).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0)
                    throw new Blip2Exception($"folder '{argument}' has no images ({string.Join(" ", Extensions.Order())})");
                files.AddRange(found);
            }
            else if (File.Exists(argument)) files.Add(argument);
            else throw Missing(argument);
        }
        return (files, folders);
    }

    /// <summary>One existing image file.</summary>
    public static string Single(string argument)
    {
        if (Directory.Exists(argument)) throw new UsageException($"'{argument}' is a folder: give one image file");
        if (!File.Exists(argument)) throw Missing(argument);
        return argument;
    }

    /// <summary>An argument that names nothing: a misspelled option (the parser takes those as image names), or a missing file.</summary>
    public static Exception Missing(string argument) => argument.StartsWith('-')
        ? new UsageException($"unknown option '{argument}' (see blip2 --help)")
        : new Blip2Exception($"image '{argument}' does not exist");
}
