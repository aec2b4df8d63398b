using System.Collections.Generic;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Bind
{
    // The intermediate representation between Bind, Check, Fuse and Emit: blocks with every config value resolved.

    /// <summary>A checkpoint source for a parameter, keys relative to the owning instance.</summary>
    internal sealed record IrSource(SourceKind Kind, IReadOnlyList<string> Keys, IReadOnlyList<double>? Scales = null);

    internal sealed class IrMember
    {
        public MemberKind Kind;
        public string Name = "";
        public long[] Dims = new long[0];
        public double Eps;
        public long Kernel, Stride;
        public bool Bias = true;
        public IrClass? Child;              // module
        public List<IrClass> Children = new List<IrClass>(); // stack (one per index; variants may differ)
        public string Key = "";             // relative checkpoint key ("" = same prefix as the owner)
        public List<IrSource> Sources = new List<IrSource>();
        public bool Float32;
        public GraphSpan Span;
        /// <summary>Set by fusion: the linears this one replaces, in output order.</summary>
        public List<IrMember>? FusedFrom;
        /// <summary>Set by fusion (FoldAttentionScale): a linear's weight and bias are multiplied by this at load.</summary>
        public double OutputScale = 1.0;
        /// <summary>String arguments of a module/stack instance, used only to fill {name} in its checkpoint keys.</summary>
        public Dictionary<string, string> ChildKeyArgs = new Dictionary<string, string>();
    }

    internal sealed class IrForward
    {
        public string Name = "";
        public List<ForwardParam> Params = new List<ForwardParam>();
        public List<string> Outputs = new List<string>();
        public List<Statement> Body = new List<Statement>();
        public GraphSpan Span;
    }

    internal sealed class IrClass
    {
        public string Name = "";
        public string BlockName = "";
        public string Variant = "";
        public GraphSpan Span;
        public bool IsRoot;
        public string? BaseType;
        /// <summary>Interface shared by the variants of one block when a stack mixes them.</summary>
        public string? Interface;
        public List<(string Name, ConstValue Value)> Constants = new List<(string, ConstValue)>();
        public List<IrMember> Members = new List<IrMember>();
        public List<IrForward> Forwards = new List<IrForward>();
        public List<string> IgnoredKeys = new List<string>();
        public List<string> AppliedFusions = new List<string>();
        public string Signature = "";
        public IrMember? FindMember(string name) { foreach (var m in Members) if (m.Name == name) return m; return null; }
    }

    /// <summary>The bound model: the root class, every class it uses (dependencies first) and where it came from.</summary>
    internal sealed class IrModel
    {
        public string Namespace = "";
        public string ClassName = "";
        public string Accessibility = "public";
        public string ConfigPath = "";
        public string Architecture = "";
        public IrClass Root = null!;
        public List<IrClass> Classes = new List<IrClass>();
        public ConfigView Config = null!;
        /// <summary>The root's `info` lines, bound (in declaration order; none values left out).</summary>
        public List<(string Name, ConstValue Value)> Facts = new List<(string, ConstValue)>();
        /// <summary>The decoder's KV cache, found from the stack whose layers call cache_append (null: no cache).</summary>
        public KvCacheGeometry? KvCache;
    }

    /// <summary>Layers, heads and head size of the KV cache a decoding run allocates.</summary>
    internal sealed record KvCacheGeometry(long Layers, long Heads, long HeadDim, string Stack);
}
