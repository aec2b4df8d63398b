namespace Blip2Compiler.Processing;

/// <summary>A tokenizer file of a checkpoint is missing, unreadable or not in a format this library understands.</summary>
public sealed class TokenizerFileException : Blip2Exception
{
    public TokenizerFileException(string filePath, string problem, Exception? inner = null)
        : base($"Tokenizer file '{filePath}': {problem}", inner!)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file (or checkpoint folder) at fault.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}
