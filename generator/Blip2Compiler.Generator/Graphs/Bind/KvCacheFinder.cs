using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Bind
{
    /// <summary>
    /// The KV cache's geometry, read off the bound graphs (before fusion): the stack whose layers call
    /// <c>cache_append</c> gives the layer count; in the block that calls it, the keys come from
    /// <c>split_heads(projection(x), heads)</c>, so heads is that constant and the head size the projection's
    /// output width over heads (OPT: hidden_size / num_attention_heads; T5: d_kv).
    /// </summary>
    internal static class KvCacheFinder
    {
        public static KvCacheGeometry? Find(IrClass root)
        {
            var found = new List<(string Path, IrMember Stack)>();
            void Walk(IrClass cls, string path)
            {
                foreach (var m in cls.Members)
                {
                    if (m.Kind == MemberKind.Stack && m.Children.Any(c => Appender(c) is not null)) found.Add((path + m.Name, m));
                    else if (m.Child is not null) Walk(m.Child, path + m.Name + ".");
                }
            }
            Walk(root, "");
            if (found.Count == 0) return null;
            if (found.Count > 1)
                throw new BindException("several stacks call cache_append (" + string.Join(", ", found.Select(f => f.Path)) + "): one decoder owns the KV cache");

            var (stackPath, stack) = found[0];
            var attention = Appender(stack.Children[0])!;
            foreach (var forward in attention.Forwards)
            {
                var append = Assignments(forward.Body).Select(a => a.Value).OfType<CallExpr>().FirstOrDefault(c => c.Callee == "cache_append");
                if (append?.Args[0] is not NameExpr keys) continue;
                var split = Assignments(forward.Body).LastOrDefault(a => a.Targets.Count == 1 && a.Targets[0] == keys.Name)?.Value as CallExpr;
                if (split is { Callee: "split_heads", Args.Count: 2 } && split.Args[0] is CallExpr projection && split.Args[1] is ConstExpr heads
                    && attention.FindMember(projection.Callee) is { Kind: MemberKind.Linear } linear)
                    return new KvCacheGeometry(stack.Children.Count, heads.Value.AsInt, linear.Dims[1] / heads.Value.AsInt, stackPath);
                throw new BindException("in " + attention.BlockName + ", cache_append's keys must come from split_heads(projection(x), heads)");
            }
            throw new BindException("no forward of " + attention.BlockName + " calls cache_append");
        }

        /// <summary>The class in a layer's subtree whose forward calls cache_append, or null.</summary>
        private static IrClass? Appender(IrClass cls)
        {
            if (cls.Forwards.Any(f => Calls(f.Body))) return cls;
            foreach (var m in cls.Members)
                foreach (var child in m.Child is null ? m.Children : new List<IrClass> { m.Child })
                    if (Appender(child) is { } found) return found;
            return null;
        }

        private static bool Calls(IEnumerable<Statement> body) => body.Any(s => s switch
        {
            AssignStatement a => a.Value is CallExpr { Callee: "cache_append" },
            ForStatement f => Calls(f.Body),
            _ => false,
        });

        private static IEnumerable<AssignStatement> Assignments(IEnumerable<Statement> body) => body.OfType<AssignStatement>();
    }
}
