namespace Blip2Compiler.Serving;

/// <summary>The engine's queue holds <see cref="MaxQueue"/> requests already: try again later (HTTP 429/503).</summary>
public sealed class EngineQueueFullException(int maxQueue)
    : Blip2Exception($"the request queue is full ({maxQueue} requests waiting): try again later")
{
    public int MaxQueue { get; } = maxQueue;
}
