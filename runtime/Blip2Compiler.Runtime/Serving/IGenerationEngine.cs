using Blip2Compiler.AI;
using Blip2Compiler.Generation;

namespace Blip2Compiler.Serving;

/// <summary>
/// Runs captioning / VQA requests of many callers on one conditional-generation model. Requests wait in a bounded
/// queue; the engine decides how they share the model (one at a time, or rows of one continuously batched decoding
/// loop). Every request gets exactly what <see cref="Blip2Captioner.Caption(IReadOnlyList{Blip2Compiler.Processing.ImageSource}, IReadOnlyList{string?}?, GenerationOptions?, CancellationToken)"/> would give it alone (seeded sampling:
/// the same tokens for the same request and seed, whatever else runs beside it).
/// </summary>
/// <remarks>
/// Errors are typed and belong to one request: its task faults with a <see cref="Blip2Exception"/> (bad options, an
/// undecodable image, <see cref="Generation.PromptTooLongException"/>, <see cref="EngineQueueFullException"/>,
/// <see cref="EngineStoppedException"/>) or is cancelled; the engine and the other requests go on.
/// </remarks>
public interface IGenerationEngine : IAsyncDisposable
{
    /// <summary>The model, processor, tokenizer and generation defaults requests run with.</summary>
    Blip2Captioner Captioner { get; }

    /// <summary>
    /// Queues <paramref name="request"/> and completes when its sequences are done. Throws (synchronously or through
    /// the task) <see cref="EngineQueueFullException"/> when the queue is full. Cancelling
    /// <paramref name="cancellationToken"/> (or passing the request's deadline) stops the request at the next decoding
    /// step, frees its row and completes the task as cancelled.
    /// </summary>
    Task<EngineCompletion> GenerateAsync(EngineRequest request, CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the engine's counters (for /metrics and tests).</summary>
    EngineStatistics Statistics { get; }

    /// <summary>
    /// Stops taking requests (new ones fail with <see cref="EngineStoppedException"/>), finishes those queued and
    /// running, and completes when they are done or <paramref name="cancellationToken"/> fires (the rest are cancelled).
    /// </summary>
    Task DrainAsync(CancellationToken cancellationToken = default);
}
