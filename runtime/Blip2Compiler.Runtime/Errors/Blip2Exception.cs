namespace Blip2Compiler;

/// <summary>
/// Base of every error this library raises on bad input (a file, an option, a checkpoint). Catch this to report
/// user mistakes as one line; anything else is a bug.
/// </summary>
public class Blip2Exception : Exception
{
    public Blip2Exception(string message) : base(message) { }
    public Blip2Exception(string message, Exception inner) : base(message, inner) { }
}
