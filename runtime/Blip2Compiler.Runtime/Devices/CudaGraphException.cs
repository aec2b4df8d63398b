namespace Blip2Compiler;

/// <summary>A CUDA-graph call of the native shim failed (native/cudagraph): which call, and libtorch's message.</summary>
public sealed class CudaGraphException(string operation, string nativeMessage)
    : Blip2Exception($"CUDA graph {operation} failed: {nativeMessage}")
{
    /// <summary>The shim call that failed (create, capture_begin, capture_end, replay, ...).</summary>
    public string Operation { get; } = operation;

    /// <summary>libtorch's or CUDA's own message.</summary>
    public string NativeMessage { get; } = nativeMessage;
}
