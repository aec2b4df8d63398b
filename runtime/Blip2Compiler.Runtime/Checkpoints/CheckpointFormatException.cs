namespace Blip2Compiler.Checkpoints;

/// <summary>A checkpoint file or index that cannot be read: truncated, corrupt, inconsistent or missing.</summary>
public sealed class CheckpointFormatException : Blip2Exception
{
    public CheckpointFormatException(string file, string problem, Exception? inner = null)
        : base($"{file}: {problem}", inner!)
    {
        File = file;
        Problem = problem;
    }

    /// <summary>The file (or checkpoint folder) at fault.</summary>
    public string File { get; }

    public string Problem { get; }
}
