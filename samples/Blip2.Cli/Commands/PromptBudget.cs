using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;

namespace Blip2.Cli.Commands;

/// <summary>
/// A prompt plus the tokens asked for must fit the language model's positions (OPT's max_position_embeddings):
/// checked before any image is read, as the library's generation prelude does (PromptTooLongException, the same
/// rule: the first step takes the prompt's positions, every new token but the last one more). Without it,
/// <c>caption --max-new-tokens 200</c> on the tiny OPT (128 positions) ended in a native "index out of range in
/// self" and exit 134. T5 (relative positions) has no table to overrun.
/// </summary>
/// <remarks>
/// The CLI's own copy of the check for the branch where the library does not make it yet; once
/// Blip2ModelBase.PrepareGeneration throws PromptTooLongException this is redundant (the CLI reports either the same
/// way: one line, exit 2).
/// </remarks>
internal static class PromptBudget
{
    public static void Check(Blip2Captioner captioner, string? prompt, GenerationOptions options)
    {
        var info = captioner.Model.ModelInfo;
        if (info.MaxPositions <= 0) return;
        // Only the max_new_tokens form; a checkpoint that sets max_length instead is left to the library.
        if ((options.MaxNewTokens ?? captioner.Defaults.MaxNewTokens ?? (captioner.Defaults.MaxLength is null ? 20 : null)) is not int maxNew) return;
        var builder = new Blip2PromptBuilder(captioner.Tokenizer, checked((int)info.NumQueryTokens), (int?)info.ImageTokenIndex);
        var ids = builder.BuildIds(prompt).Count;
        // With an image token the ids hold the query tokens; legacy layouts prepend the queries to them.
        long promptPositions = ids + (info.ImageTokenIndex is null ? info.NumQueryTokens : 0);
        if (promptPositions + maxNew - 1 > info.MaxPositions)
            throw new PromptTooLongException(checked((int)promptPositions), maxNew, checked((int)info.MaxPositions));
    }
}
