namespace Blip2Compiler.Tests.CommandLine;

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "blip2-cli-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name, string? text = null)
    {
        var path = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        if (text is not null) System.IO.File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A copy of a checkpoint folder, to break one file of it.</summary>
    public string CopyOf(string checkpoint)
    {
        var target = System.IO.Path.Combine(Path, System.IO.Path.GetFileName(checkpoint));
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(checkpoint)) System.IO.File.Copy(file, System.IO.Path.Combine(target, System.IO.Path.GetFileName(file)));
        return target;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
