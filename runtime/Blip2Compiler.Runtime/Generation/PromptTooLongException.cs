namespace Blip2Compiler.Generation;

/// <summary>
/// The prompt (image query tokens + text) plus the tokens to generate need more positions than the language model
/// has (OPT's max_position_embeddings). Raised before any model work. A run takes the prompt's positions and one
/// more per new token but the last (which is never fed back), as in Hugging Face.
/// </summary>
public sealed class PromptTooLongException(int promptPositions, int maxNewTokens, int modelPositions)
    : Blip2Exception(
        $"the prompt takes {promptPositions} positions and {maxNewTokens} new tokens were asked for, " +
        $"but the language model has {modelPositions} positions: " +
        (promptPositions > modelPositions
            ? $"shorten the prompt by at least {promptPositions - modelPositions} tokens"
            : $"ask for at most {modelPositions - promptPositions + 1} new tokens or shorten the prompt"))
{
    public int PromptPositions { get; } = promptPositions;
    public int MaxNewTokens { get; } = maxNewTokens;
    public int ModelPositions { get; } = modelPositions;
}
