namespace Blip2Compiler.Serving;

/// <summary>
/// The prompt plus the tokens asked for need more positions than the engine's rows hold
/// (<see cref="EngineOptions.MaxSequenceLength"/>), though the model has them: ask for fewer tokens, shorten the
/// prompt, or run the engine with longer rows.
/// </summary>
public sealed class EngineSequenceTooLongException(int promptPositions, int maxNewTokens, int maxSequenceLength)
    : Blip2Exception(
        $"the prompt takes {promptPositions} positions and {maxNewTokens} new tokens were asked for, but the engine's rows hold " +
        $"{maxSequenceLength} positions (EngineOptions.MaxSequenceLength): " +
        (promptPositions >= maxSequenceLength
            ? "shorten the prompt"
            : $"ask for at most {maxSequenceLength - promptPositions} new tokens or shorten the prompt"))
{
    public int PromptPositions { get; } = promptPositions;
    public int MaxNewTokens { get; } = maxNewTokens;
    public int MaxSequenceLength { get; } = maxSequenceLength;
}
