using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>A mistake on the command line itself (a value no option accepts): exit code 2.</summary>
internal sealed class UsageException : Blip2Exception
{
    public UsageException(string message) : base(message) { }

    /// <param name="inner">The library's own error for the value (e.g. an InvalidGenerationOptionException naming the option).</param>
    public UsageException(string message, Exception inner) : base(message, inner) { }
}
