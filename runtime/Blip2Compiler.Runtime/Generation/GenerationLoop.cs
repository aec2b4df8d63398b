using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// The decoding loop of Hugging Face transformers' <c>generate</c>: greedy search, multinomial sampling, beam search
/// and group (diverse) beam search (<c>_sample</c>, <c>_beam_search</c>, <c>_group_beam_search</c>), with its logits
/// processors and stopping rules (EOS, max_length, stop strings). Models plug in through
/// <see cref="DecoderFactory"/>.
/// </summary>
public static class GenerationLoop
{
    /// <summary>
    /// Generates from <paramref name="contextIds"/> [batch, length] (int64): the ids Hugging Face's <c>generate</c> sees
    /// as <c>input_ids</c> — the prompt for a decoder-only model, [batch, 1] decoder start ids for an encoder–decoder.
    /// Throws <see cref="InvalidGenerationOptionException"/> before any model work when an option cannot be used (user
    /// input); a malformed context, or a factory or session that breaks its contract (<see cref="IDecoderSession"/>), is
    /// a bug of the calling code: <see cref="ArgumentException"/> / <see cref="InvalidOperationException"/>.
    /// <paramref name="cancellationToken"/> is checked before the session is opened (no cache is allocated for a run
    /// already cancelled) and between decoding steps of every search: a cancelled run ends before its next step with
    /// <see cref="OperationCanceledException"/>, its session (the KV cache) and its tensors released.
    /// </summary>
    public static GenerationResult Generate(DecoderFactory factory, Tensor contextIds, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(contextIds);
        ArgumentNullException.ThrowIfNull(options);
        if (contextIds.dim() != 2 || contextIds.dtype != ScalarType.Int64 || contextIds.shape[0] == 0 || contextIds.shape[1] == 0)
            throw new ArgumentException(
                $"Generation context ids must be a non-empty [batch, length] int64 tensor, got {contextIds.dtype} [{string.Join(", ", contextIds.shape)}].",
                nameof(contextIds));

        var plan = GenerationPlan.Resolve(options, (int)contextIds.shape[1]);
        plan.CheckRows(contextIds.shape[0]);
        var processors = LogitsProcessorList.For(plan);
        cancellationToken.ThrowIfCancellationRequested();
        using var scope = NewDisposeScope();
        // Inference mode, not just no-grad: libtorch skips the autograd dispatch and version counters, about 0.7 µs
        // of host time per op measured on CPU (a decoding step is hundreds of small ops). Everything made here stays
        // here: the caller gets host arrays back.
        using var inference = TorchSharp.torch.inference_mode();
        var steps = new StepBoundary(options.OnStep, cancellationToken);
        if (plan.IsGroupBeamSearch) return GroupBeamSearch.Run(factory, contextIds, plan, processors, steps);
        return plan.NumBeams > 1
            ? BeamSearch.Run(factory, contextIds, plan, processors, steps)
            : SampleSearch.Run(factory, contextIds, plan, processors, steps, options.OnTokens);
    }

    /// <summary>Opens the model's session and checks that it decodes the rows the loop expects.</summary>
    internal static IDecoderSession Open(DecoderFactory factory, int rowsPerInput, GenerationPlan plan, long expectedRows)
    {
        var session = factory(rowsPerInput, plan.MaxNewTokens)
            ?? throw new InvalidOperationException("The decoder factory returned no session.");
        if (session.Rows != expectedRows)
        {
            session.Dispose();
            throw new InvalidOperationException($"The decoder session decodes {session.Rows} rows; the generation loop expects {expectedRows} (inputs × {rowsPerInput}).");
        }
        return session;
    }

    /// <summary>Next-token logits as float32 on the context's device, checked against the row count.</summary>
    internal static Tensor Logits(Tensor logits, long rows, Device device)
    {
        if (logits.dim() != 2 || logits.shape[0] != rows)
            throw new InvalidOperationException($"The decoder session returned logits [{string.Join(", ", logits.shape)}]; expected [{rows}, vocab].");
        return logits.to(ScalarType.Float32, device);
    }

    /// <summary>Keeps a tensor made inside a step's dispose scope for the next step, freeing the one it replaces.</summary>
    internal static void Keep(ref Tensor slot, Tensor value)
    {
        if (ReferenceEquals(slot, value)) return;
        var old = slot;
        slot = value.MoveToOuterDisposeScope();
        old.Dispose();
    }
}
