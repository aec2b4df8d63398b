using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>The one place decoding draws from a distribution (sampling and beam sampling).</summary>
internal static class Sampling
{
    /// <summary>
    /// <c>torch.multinomial</c> without replacement. libtorch checks the distribution (no NaN, enough non-zero
    /// categories) and throws a native error otherwise; that becomes a <see cref="SamplingException"/>. (On a GPU the
    /// check is part of the kernel and can surface later, at the next host read.)
    /// </summary>
    public static Tensor Draw(Tensor probabilities, long samples, Generator? generator)
    {
        try
        {
            return multinomial(probabilities, samples, generator: generator);
        }
        catch (ExternalException e)
        {
            var reason = e.Message.Split('\n')[0];
            throw new SamplingException(samples, reason.Contains("n_sample") || reason.Contains("not enough")
                ? "fewer tokens have a probability than must be drawn"
                : "a row has no token with a probability left (every score is −inf)");
        }
    }
}
