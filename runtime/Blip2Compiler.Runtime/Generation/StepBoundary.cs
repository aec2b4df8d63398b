namespace Blip2Compiler.Generation;

/// <summary>
/// What every search does between two decoding steps: report the step (<see cref="GenerationOptions.OnStep"/>), and
/// before the next model forward, end the run if its token is cancelled. The forward is the cost a step adds (the
/// whole model once), so a run cancelled during a step does at most that step's bookkeeping more, never another
/// forward; the search's <c>using</c> on its session then releases the KV cache.
/// </summary>
internal readonly struct StepBoundary(Action<int>? onStep, CancellationToken cancellationToken)
{
    /// <summary>A step chose its tokens: each row now has <paramref name="generated"/> new tokens.</summary>
    public void Reached(int generated) => onStep?.Invoke(generated);

    /// <summary>Before the next forward (the first one, the prompt's prefill, included).</summary>
    public void ThrowIfCancelled() => cancellationToken.ThrowIfCancellationRequested();
}
