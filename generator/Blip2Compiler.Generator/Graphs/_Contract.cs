// TEMPORARY: mirror of the plumbing contract, replaced by the genplumb branch at merge.
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
namespace Blip2Compiler.Generator
{
    internal readonly struct EquatableArray<T> : System.IEquatable<EquatableArray<T>>, IEnumerable<T> where T : System.IEquatable<T>
    {
        private readonly ImmutableArray<T> _items;
        public EquatableArray(ImmutableArray<T> items) { _items = items; }
        public ImmutableArray<T> AsImmutableArray() => _items.IsDefault ? ImmutableArray<T>.Empty : _items;
        public bool Equals(EquatableArray<T> other) => AsImmutableArray().SequenceEqual(other.AsImmutableArray());
        public override bool Equals(object? obj) => obj is EquatableArray<T> o && Equals(o);
        public override int GetHashCode() => AsImmutableArray().Length;
        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)AsImmutableArray()).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
    internal sealed record LocationInfo(string FilePath, Microsoft.CodeAnalysis.Text.TextSpan Span, Microsoft.CodeAnalysis.Text.LinePositionSpan LineSpan);
    internal sealed record DiagnosticInfo(string Id, EquatableArray<string> MessageArgs, LocationInfo? Location);
    internal enum ConfigKind { Number, String, Bool, Null, Array }
    internal sealed record ConfigEntry(string Path, ConfigKind Kind, string Value, EquatableArray<string> Items, LocationInfo? Location);
    internal sealed record ConfigDocument(string SourcePath, EquatableArray<ConfigEntry> Entries)
    {
        public ConfigEntry? Find(string path) => Entries.FirstOrDefault(e => e.Path == path);
    }
    internal sealed record ModelDeclaration(string Namespace, string ClassName, string Accessibility, ConfigDocument Config, LocationInfo AttributeLocation);
    internal sealed record GeneratedFile(string HintName, string Source);
    internal sealed record CompileResult(EquatableArray<GeneratedFile> Files, EquatableArray<DiagnosticInfo> Diagnostics);
}
