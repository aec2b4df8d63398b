namespace Blip2Compiler.Processing;

/// <summary>An image that cannot be decoded: missing, empty, truncated, corrupt, or in an unknown format.</summary>
public class ImageDecodeException : Blip2Exception
{
    public ImageDecodeException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner!)
    {
        ImageName = source;
        Problem = problem;
    }

    /// <summary>The file name, or a description such as "&lt;bytes&gt;" for in-memory data.</summary>
    public string ImageName { get; }

    /// <summary>What is wrong with the image, without the source.</summary>
    public string Problem { get; }
}
