using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// <c>ForcedBOSTokenLogitsProcessor</c>: when the ids so far are one token long (an encoder–decoder's decoder start),
/// every score is −inf but the forced id's, which is 0.
/// </summary>
public sealed class ForcedBosTokenProcessor(long bosTokenId) : ILogitsProcessor
{
    public Tensor Process(Tensor contextIds, Tensor scores) =>
        contextIds.shape[1] == 1 ? ForcedEosTokenProcessor.Force(scores, [bosTokenId], "forced_bos_token_id") : scores;
}
