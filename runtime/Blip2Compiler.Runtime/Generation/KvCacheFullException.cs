namespace Blip2Compiler.Generation;

/// <summary>A decoder tried to cache more positions than its <see cref="KvCache"/> was allocated for.</summary>
public sealed class KvCacheFullException(int capacity, int length, long adding)
    : Blip2Exception($"KV cache is full: it holds {length} of {capacity} positions and cannot take {adding} more. " +
                     "Allocate it for the prompt length plus max_new_tokens.")
{
    public int Capacity { get; } = capacity;
}
