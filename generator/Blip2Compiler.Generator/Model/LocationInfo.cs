using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Generator;

/// <summary>
/// A <see cref="Location"/> reduced to values: a Location holds its SyntaxTree, which must not cross the incremental
/// cache (it would keep old compilations alive and defeat caching). Works for C# files and for additional files alike.
/// </summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location == Location.None) return null;
        var lineSpan = location.GetLineSpan();
        return new LocationInfo(lineSpan.Path ?? "", location.SourceSpan, lineSpan.Span);
    }

    public static LocationInfo? From(SyntaxNode? node) => node is null ? null : From(node.GetLocation());
}
