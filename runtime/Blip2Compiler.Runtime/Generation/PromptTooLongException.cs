namespace Blip2Compiler.Generation;

/// <summary>
/// The prompt (image query tokens + text) plus the tokens to generate need more positions than the language model
/// has (OPT's max_position_embeddings). Raised before any model work.
/// </summary>
public sealed class PromptTooLongException(int promptPositions, int maxNewTokens, int modelPositions)
    : Blip2Exception(
        $"the prompt takes {promptPositions} positions and {maxNewTokens} new tokens were asked for, " +
        $"but the language model has {modelPositions} positions: " +
        (promptPositions >= modelPositions
            ? "shorten the prompt"
            : $"ask for at most {modelPositions - promptPositions} new tokens or shorten the prompt"))
{
    public int PromptPositions { get; } = promptPositions;
    public int MaxNewTokens { get; } = maxNewTokens;
    public int ModelPositions { get; } = modelPositions;
}
