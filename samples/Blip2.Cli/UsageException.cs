using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>A mistake on the command line itself (a value no option accepts): exit code 2.</summary>
internal sealed class UsageException(string message) : Blip2Exception(message);
