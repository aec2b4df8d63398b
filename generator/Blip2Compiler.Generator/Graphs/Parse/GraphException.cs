namespace Blip2Compiler.Generator.Graphs.Parse
{
    /// <summary>A malformed graph: the generator reports it as BLIP2020 with the graph file and line.</summary>
    internal sealed class GraphException : System.Exception
    {
        public GraphException(string file, int line, string message) : base(message) { File = file; Line = line; }
        public string File { get; }
        public int Line { get; }
        public override string ToString() => File + "(" + Line + "): " + Message;
    }
}
