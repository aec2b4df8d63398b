using Blip2Compiler.Generation;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Serving;

/// <summary>One caller's request: an image, a prompt and generation options.</summary>
public sealed record EngineRequest
{
    /// <summary>The image (BLIP-2 conditions each prompt on one image).</summary>
    public required ImageSource Image { get; init; }

    /// <summary>The text the answer continues (e.g. "Question: … Answer:"); null or empty: a plain caption.</summary>
    public string? Prompt { get; init; }

    /// <summary>Overrides of the checkpoint's generation_config.json (null: its defaults).</summary>
    public GenerationOptions? Options { get; init; }

    /// <summary>
    /// Text-level stop sequences: a sequence ends as soon as its decoded text contains one (across token boundaries);
    /// the returned text ends before it (OpenAI's <c>stop</c>).
    /// </summary>
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>When set, the request is cancelled at the first decoding step after this moment.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>
    /// Streaming: called with (sequence index, new text) as text becomes final, in order, on the engine's thread;
    /// keep it short (write to a channel). Not called for beam search, which is only known at the end.
    /// </summary>
    public Action<int, string>? OnText { get; init; }
}

/// <summary>Why a sequence ended.</summary>
public enum FinishReason
{
    /// <summary>An EOS token or a stop sequence.</summary>
    Stop,
    /// <summary>max_new_tokens (or max_length) reached.</summary>
    Length,
}

/// <summary>One returned sequence: its text (trimmed, stop sequence excluded) and its new token ids.</summary>
public sealed record EngineSequence(string Text, IReadOnlyList<long> Tokens, FinishReason FinishReason);

/// <summary>What a request got: <c>num_return_sequences</c> sequences, with token counts and times.</summary>
public sealed record EngineCompletion(
    IReadOnlyList<EngineSequence> Sequences,
    int PromptTokens,
    int CompletionTokens,
    TimeSpan QueueTime,
    TimeSpan TotalTime);

/// <summary>Counters of an engine at one moment.</summary>
public sealed record EngineStatistics(
    int QueueDepth,
    int MaxQueue,
    int RunningRows,
    int MaxBatch,
    long CompletedRequests,
    long FailedRequests,
    long CancelledRequests,
    long RejectedRequests,
    long GeneratedTokens,
    long DecodingSteps);

/// <summary>Engine settings.</summary>
public sealed record EngineOptions
{
    /// <summary>Rows decoded together at most (KV-cache slots, allocated once).</summary>
    public int MaxBatch { get; init; } = 8;

    /// <summary>Requests that may wait for a slot; one more is refused with <see cref="EngineQueueFullException"/>.</summary>
    public int MaxQueue { get; init; } = 64;

    /// <summary>
    /// Positions per row (prompt + new tokens for OPT; for T5 the encoder's prompt, and new tokens + 1 in its
    /// decoder), allocated once for every slot. Null: the language model's max_position_embeddings, at most 512
    /// (T5: 512). A batched request needing more is refused with <see cref="EngineSequenceTooLongException"/> (beam
    /// search runs alone on the side lane, in a cache of its own).
    /// </summary>
    public int? MaxSequenceLength { get; init; }

    /// <summary>
    /// A pause after each decoding step, the batch's and the side lane's (zero: none). For tests of timing behaviour on
    /// a real server: the bundled tiny model decodes 90 tokens in well under the time a real client takes to close its
    /// socket, so a "client leaves mid-answer" test needs steps that last (`blip2 serve` reads it from
    /// BLIP2_ENGINE_STEP_PAUSE_MS).
    /// </summary>
    public TimeSpan StepPause { get; init; }

    /// <summary>
    /// How long an idle engine (no row running) waits for more requests once one arrives, so that requests arriving
    /// together are encoded and prefilled together instead of the first one alone: the wait ends when none has arrived
    /// for this long, when the waiting requests fill the free slots, or after four times this in all. Zero: admit at
    /// once. It never delays a request that joins running rows (those join at the next step), and it adds at most
    /// four times this to a lone request's latency.
    /// </summary>
    /// <remarks>
    /// Why 10 ms: clients answered at the same step come back within 4-15 ms of one another through HTTP (engine
    /// trace, 8 closed-loop clients on `mid`, gaps up to 7 ms), and the engine, woken by the first, admitted the first
    /// 3 alone; the two groups then stayed apart, each admission pausing the other's rows (3 in 0.71 s, then 5 in
    /// 1.1-1.5 s per cycle, against 8 in 1.5-1.6 s together). As Triton's dynamic batcher's queue delay, bounded
    /// and only when nothing is running.
    /// </remarks>
    public TimeSpan AdmissionWindow { get; init; } = TimeSpan.FromMilliseconds(10);
}
