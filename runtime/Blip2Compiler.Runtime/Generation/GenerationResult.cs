namespace Blip2Compiler.Generation;

/// <summary>
/// What <see cref="GenerationLoop.Generate"/> returns: inputs × num_return_sequences rows, the rows of one input adjacent
/// (best beam first).
/// </summary>
public sealed record GenerationResult
{
    /// <summary>Each row: its context ids followed by the new tokens, exactly as Hugging Face's <c>generate</c> returns them
    /// (finished rows are filled with the pad id up to the longest row).</summary>
    public required long[][] Sequences { get; init; }

    /// <summary>The part of <see cref="Sequences"/> after the context (EOS and pad filling included).</summary>
    public required long[][] NewTokens { get; init; }

    /// <summary>Beam search only: each returned hypothesis's length-penalised log-probability (Hugging Face's <c>sequences_scores</c>).</summary>
    public float[]? SequenceScores { get; init; }

    /// <summary>
    /// <c>output_scores</c> only: per row, the log-probability of each generated token under the scores it was chosen
    /// from (after the processors and warpers), up to and including the row's last token — its EOS or the token that
    /// completed a stop string; pad filling has none. What Hugging Face's <c>compute_transition_scores</c> gives:
    /// with <c>normalize_logits=True</c> for greedy search and sampling (whose <c>scores</c> are processed logits),
    /// as they are for beam search (whose <c>scores</c> are processed log-probabilities, followed along
    /// <c>beam_indices</c>), so a hypothesis's entries sum to its score × generated_len ^ length_penalty.
    /// </summary>
    public float[][]? TokenScores { get; init; }

    internal static GenerationResult From(TorchSharp.torch.Tensor sequences, int contextLength, float[]? scores)
    {
        using var host = sequences.cpu();
        var rows = (int)host.shape[0];
        var length = (int)host.shape[1];
        var flat = host.data<long>().ToArray();
        var all = new long[rows][];
        var fresh = new long[rows][];
        for (var r = 0; r < rows; r++)
        {
            all[r] = flat.AsSpan(r * length, length).ToArray();
            fresh[r] = all[r][contextLength..];
        }
        return new GenerationResult { Sequences = all, NewTokens = fresh, SequenceScores = scores };
    }
}
