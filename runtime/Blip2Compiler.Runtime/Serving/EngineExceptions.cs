namespace Blip2Compiler.Serving;

/// <summary>The engine's queue holds <see cref="MaxQueue"/> requests already: try again later (HTTP 429/503).</summary>
public sealed class EngineQueueFullException(int maxQueue)
    : Blip2Exception($"the request queue is full ({maxQueue} requests waiting): try again later")
{
    public int MaxQueue { get; } = maxQueue;
}

/// <summary>The engine is stopping or stopped and takes no new requests.</summary>
public sealed class EngineStoppedException()
    : Blip2Exception("the engine is shutting down and takes no new requests");

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
