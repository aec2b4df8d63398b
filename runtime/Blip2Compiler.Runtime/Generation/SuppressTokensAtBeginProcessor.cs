using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>SuppressTokensAtBeginLogitsProcessor</c>: the listed ids score −inf at the step where the ids so far are
/// <paramref name="beginIndex"/> long. <c>generate</c> sets that to the context length, one more when the context is
/// one token and <c>forced_bos_token_id</c> takes the first position.
/// </summary>
public sealed class SuppressTokensAtBeginProcessor(IReadOnlyList<long> beginSuppressTokens, int beginIndex) : ILogitsProcessor
{
    private readonly long[] _ids = [.. beginSuppressTokens];

    public Tensor Process(Tensor contextIds, Tensor scores) =>
        contextIds.shape[1] == beginIndex ? SuppressTokensProcessor.Suppress(scores, _ids) : scores;
}
