using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// One decoding run of a model: owns its KV cache. <see cref="GenerationLoop"/> calls <see cref="Next"/> and
/// <see cref="Reorder"/> inside its own per-step dispose scope, so tensors a session keeps from one call to the next
/// must be detached from dispose scopes (<c>DetachFromDisposeScope</c>, as <see cref="KvCache"/> does) and disposed by
/// the session.
/// </summary>
public interface IDecoderSession : IDisposable
{
    /// <summary>Rows decoded (inputs × rows per input).</summary>
    long Rows { get; }

    /// <summary>
    /// First call: <paramref name="tokens"/> == null, the model consumes the prompt it was started with and returns the
    /// next-token logits of every row [Rows, vocab] (float32).
    /// Later calls: <paramref name="tokens"/> [Rows, 1] (int64) are the tokens just chosen; returns the logits for the
    /// following position. The returned tensor is new and belongs to the loop, which disposes it.
    /// </summary>
    Tensor Next(Tensor? tokens);

    /// <summary>Beam search: keeps rows <paramref name="rowIndex"/> [Rows] (int64) of every cache, in that order.</summary>
    void Reorder(Tensor rowIndex);
}

/// <summary>
/// Starts a decoding run. The model repeats each input row <paramref name="rowsPerInput"/> times (repeat_interleave),
/// as Hugging Face expands inputs for beams / num_return_sequences, and preallocates its cache for
/// <paramref name="maxNewTokens"/>.
/// </summary>
public delegate IDecoderSession DecoderFactory(int rowsPerInput, int maxNewTokens);
