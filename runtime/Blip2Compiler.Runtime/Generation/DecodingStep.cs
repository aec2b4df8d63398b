namespace Blip2Compiler.Generation;

/// <summary>
/// How a model runs its one-token decoding steps. Every kind gives the same tokens; they differ in what a step does
/// on the host.
/// </summary>
public enum DecodingStep
{
    /// <summary>Each step's inputs are new tensors sized to the rows decoded (the default).</summary>
    Dynamic,

    /// <summary>
    /// The step reads and writes static buffers made once per run (token ids, the mask over the whole cache, the KV
    /// cache at its full length, the logits), for rows padded up to a batch bucket (<see cref="BatchBuckets"/>), and
    /// carries no host value: the form a CUDA graph can capture. Run eagerly.
    /// </summary>
    StaticBuffers,

    /// <summary>
    /// <see cref="StaticBuffers"/>, captured as one CUDA graph per run after a warm-up step and replayed for every
    /// following token (CUDA devices, with the native shim of native/cudagraph). Where the shim cannot be used the
    /// static step runs eagerly and the model's <c>DecodingStepNote</c> says why.
    /// </summary>
    CudaGraphs,
}
