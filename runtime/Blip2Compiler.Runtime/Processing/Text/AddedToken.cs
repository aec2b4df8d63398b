namespace Blip2Compiler.Processing;

/// <summary>
/// A token matched whole in the raw text before the model sees it (HF <c>AddedToken</c>): special tokens such as
/// <c>&lt;image&gt;</c>, <c>&lt;/s&gt;</c> or <c>[CLS]</c>, and tokens added after training.
/// </summary>
/// <param name="Content">The text matched.</param>
/// <param name="Id">Its id.</param>
/// <param name="Special">Dropped by <c>Decode(skipSpecialTokens: true)</c>.</param>
/// <param name="LStrip">Also swallow the whitespace on its left.</param>
/// <param name="RStrip">Also swallow the whitespace on its right.</param>
/// <param name="SingleWord">Only match when not inside a word.</param>
public sealed record AddedToken(string Content, int Id, bool Special, bool LStrip = false, bool RStrip = false, bool SingleWord = false);
