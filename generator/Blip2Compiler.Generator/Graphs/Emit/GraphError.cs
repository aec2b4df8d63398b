using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Emit
{
    /// <summary>A graph that cannot be compiled (BLIP2020), with its graph line.</summary>
    internal sealed class GraphError : System.Exception
    {
        public GraphError(GraphSpan span, string message) : base(System.IO.Path.GetFileName(span.File) + ":" + span.Line + ": " + message) { }
    }
}
