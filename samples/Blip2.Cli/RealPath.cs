namespace Blip2.Cli;

/// <summary>
/// The canonical path of a file or folder: every symbolic link on the way resolved, as POSIX realpath(3) does, so
/// two paths name the same thing exactly when their real paths are equal. Portable (FileSystemInfo.LinkTarget),
/// where P/Invoking libc's realpath would not be.
/// </summary>
internal static class RealPath
{
    /// <summary>Links followed for one path before it counts as a loop (Linux's own limit, ELOOP).</summary>
    private const int MaxLinks = 40;

    /// <exception cref="IOException">A chain of more than 40 links (a loop).</exception>
    public static string Of(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full)!;
        var pending = new Stack<string>(Components(full).Reverse());
        var current = root;
        int links = 0;
        while (pending.TryPop(out var part))
        {
            if (part == ".") continue;
            if (part == "..") { current = Path.GetDirectoryName(current) ?? root; continue; }
            var next = Path.Join(current, part);
            var target = new FileInfo(next).LinkTarget;
            if (target is null) { current = next; continue; }
            if (++links > MaxLinks) throw new IOException($"'{path}': more than {MaxLinks} symbolic links (a loop)");
            if (Path.IsPathRooted(target)) current = Path.GetPathRoot(Path.GetFullPath(target))!;
            foreach (var p in Components(target).Reverse()) pending.Push(p);
        }
        return current;
    }

    private static IEnumerable<string> Components(string path) =>
        path[(Path.GetPathRoot(path)?.Length ?? 0)..].Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);
}
