namespace Blip2Compiler.Generator;

/// <summary>
/// A user graph: an AdditionalFiles <c>*.graph</c> file, added to the embedded graphs (a root declared there is
/// selected like the built-in ones). Carried as text so the pipeline compares it by content.
/// </summary>
internal sealed record GraphSource(string Path, string Text);
