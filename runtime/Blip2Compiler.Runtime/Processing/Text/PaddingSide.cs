namespace Blip2Compiler.Processing;

/// <summary>Where padding goes when prompts of different lengths are batched (left for generation).</summary>
public enum PaddingSide
{
    Left,
    Right,
}
