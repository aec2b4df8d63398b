namespace Blip2Compiler.Processing;

/// <summary>An image processor config file that cannot be read, or that holds an invalid option.</summary>
public sealed class ImageProcessorConfigException : Blip2Exception
{
    public ImageProcessorConfigException(string file, string problem, Exception? inner = null)
        : base($"{file}: {problem}", inner!)
    {
        File = file;
    }

    /// <summary>The config file (or a description of where the options came from).</summary>
    public string File { get; }
}
