using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>Rewrites next-token scores, as Hugging Face's <c>LogitsProcessor</c>.</summary>
public interface ILogitsProcessor
{
    /// <summary>
    /// <paramref name="contextIds"/> [rows, length] are the ids so far (context + generated); <paramref name="scores"/>
    /// [rows, vocab] are raw logits (greedy, sampling) or log-probabilities (beam search). Returns the processed scores
    /// (the input itself when nothing applies); never changes its inputs in place.
    /// </summary>
    Tensor Process(Tensor contextIds, Tensor scores);
}
