namespace Blip2.Cli;

/// <summary>
/// The files under a folder, subfolders included, following symbolic links but visiting each real folder and each
/// real file once: a link loop (a/loop → a) ends at once, where Directory.EnumerateFiles(AllDirectories) followed it
/// ~40 levels deep, and two links to one file give one image. Sorted by path (ordinal), so runs repeat.
/// </summary>
internal static class ImageFolder
{
    public static IReadOnlyList<string> Files(string folder)
    {
        var seenFolders = new HashSet<string>(StringComparer.Ordinal);
        var seenFiles = new HashSet<string>(StringComparer.Ordinal);
        var files = new List<string>();
        var pending = new Stack<string>([folder]);
        while (pending.TryPop(out var dir))
        {
            if (!seenFolders.Add(RealPath.Of(dir))) continue;
            // Names in order, subfolders pushed last-first: which of two links to one file is kept does not depend
            // on the file system's listing order.
            var names = new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0 })
                .Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
            var subfolders = new List<string>();
            foreach (var name in names)
            {
                var path = Path.Join(dir, name);
                if (Directory.Exists(path)) subfolders.Add(path);
                else if (File.Exists(path) && seenFiles.Add(RealPath.Of(path))) files.Add(path);
                // else: a dangling link; nothing to read.
            }
            for (int i = subfolders.Count - 1; i >= 0; i--) pending.Push(subfolders[i]);
        }
        files.Sort(StringComparer.Ordinal);
        return files;
    }
}
