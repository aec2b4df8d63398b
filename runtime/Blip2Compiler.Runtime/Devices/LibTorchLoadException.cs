namespace Blip2Compiler;

/// <summary>The native libtorch could not be loaded from the folder given (or from the application's packages).</summary>
public sealed class LibTorchLoadException : Blip2Exception
{
    public LibTorchLoadException(string folder, string problem, Exception? inner = null)
        : base($"libtorch folder '{folder}': {problem}", inner!)
    {
        Folder = folder;
    }

    public string Folder { get; }
}
