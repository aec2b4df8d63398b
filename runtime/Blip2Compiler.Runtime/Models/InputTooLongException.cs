namespace Blip2Compiler.Models;

/// <summary>
/// A text longer than the positions of the part of the model that reads it: the Q-Former's text side
/// (<c>qformer_config.max_position_embeddings</c>, 512 for the published checkpoints) for matching and embeddings,
/// OPT's table for a forward pass. Generation reports its own case as <see cref="Generation.PromptTooLongException"/>.
/// </summary>
public sealed class InputTooLongException(string part, long positions, long modelPositions)
    : Blip2Exception($"the input takes {positions} positions but {part} has {modelPositions}: shorten it " +
        $"(the processors cut texts to fit when given max_length)")
{
    /// <summary>What reads the input, e.g. <c>the Q-Former's text side</c>.</summary>
    public string Part { get; } = part;

    public long Positions { get; } = positions;

    public long ModelPositions { get; } = modelPositions;
}
