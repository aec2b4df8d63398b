using System.Collections.Generic;
using System.IO;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Parse;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs
{
    /// <summary>The graphs in graphs/*.graph, embedded in the generator and parsed once per process.</summary>
    internal static class GraphLibrary
    {
        private static readonly object Gate = new object();
        private static IReadOnlyList<GraphFile>? _parsed;

        public static IReadOnlyList<GraphFile> Load()
        {
            lock (Gate)
            {
                if (_parsed is not null) return _parsed;
                var assembly = typeof(GraphLibrary).Assembly;
                var files = new List<GraphFile>();
                foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("graphs/", System.StringComparison.Ordinal)).OrderBy(n => n, System.StringComparer.Ordinal))
                {
                    using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
                    files.Add(GraphParser.Parse(name, reader.ReadToEnd()));
                }
                _parsed = files;
                return files;
            }
        }
    }
}
