using static TorchSharp.torch;

namespace Blip2Compiler.Serving;

/// <summary>
/// A model's side of continuous batching: a fixed number of row slots, each with its own KV-cache positions and
/// mask, allocated once. Running rows occupy slots [0, <see cref="Rows"/>); new prompts are encoded and prefilled
/// into the slots after them; one <see cref="Step"/> decodes one token for every running row at once; rows that
/// leave are dropped with <see cref="Keep"/>, which compacts the survivors. Used by one thread (the engine's loop).
/// </summary>
internal interface IRowBatch : IDisposable
{
    int Slots { get; }

    /// <summary>Positions one row can hold (prompt + new tokens for decoder-only models, new tokens + 1 for T5's decoder).</summary>
    int Capacity { get; }

    /// <summary>Rows running now, in slots [0, Rows).</summary>
    int Rows { get; }

    /// <summary>Cache positions a request with these prompt ids takes before its first new token (T5: its encoder's,
    /// kept in its slot as encoder states and cross-attention keys/values).</summary>
    int PromptPositions(long[] promptIds);

    /// <summary>Refuses with <see cref="EngineSequenceTooLongException"/> a request whose prompt and new tokens would
    /// not fit a row of <see cref="Capacity"/> positions.</summary>
    void CheckFits(long[] promptIds, int maxNewTokens);

    /// <summary>The context ids generation continues (Hugging Face's <c>input_ids</c> of <c>generate</c>'s loop).</summary>
    long[] ContextIds(long[] promptIds, Generation.GenerationOptions settings);

    /// <summary>
    /// Encodes the prompts (one vision + Q-Former pass for all of them; prompts of equal length prefilled together)
    /// into slots [Rows, Rows + Σ copies), each prompt's rows adjacent, and returns their first next-token logits
    /// [Σ copies, vocab] (float32, in the caller's dispose scope). On failure no running row is changed.
    /// </summary>
    Tensor Admit(IReadOnlyList<RowPrompt> prompts);

    /// <summary>Decodes <paramref name="tokens"/> (one per running row) and returns the next logits [Rows, vocab].</summary>
    Tensor Step(ReadOnlySpan<long> tokens);

    /// <summary>Keeps running rows <paramref name="rows"/> (ascending), moved to slots [0, count) in that order.</summary>
    void Keep(IReadOnlyList<int> rows);
}

/// <summary>One request's prompt for <see cref="IRowBatch.Admit"/>: pixel values [1, 3, H, W], prompt ids, and how
/// many rows decode it (num_return_sequences).</summary>
internal sealed record RowPrompt(Tensor Pixels, long[] Ids, int Copies)
{
    /// <summary>The context ids generation continues (<see cref="IRowBatch.ContextIds"/>): T5's rows start from its
    /// one decoder start token (the request's decoder_start_token_id); null: the checkpoint's.</summary>
    public long[]? Context { get; init; }
}
