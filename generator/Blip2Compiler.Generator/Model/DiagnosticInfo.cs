using Microsoft.CodeAnalysis;

namespace Blip2Compiler.Generator;

/// <summary>
/// A diagnostic as data: the descriptor is looked up by <see cref="Id"/> in <see cref="DiagnosticDescriptors"/>
/// when it is reported, so the pipeline only carries values that compare by content.
/// </summary>
internal sealed record DiagnosticInfo(string Id, EquatableArray<string> MessageArgs, LocationInfo? Location)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] messageArgs) =>
        new(descriptor.Id, EquatableArray.Create(messageArgs), location);

    public Diagnostic ToDiagnostic()
    {
        var args = new object[MessageArgs.Count];
        for (var i = 0; i < args.Length; i++) args[i] = MessageArgs[i];
        return Diagnostic.Create(DiagnosticDescriptors.Get(Id), Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None, args);
    }
}
