using System.Net;
using Blip2Compiler.AI;

namespace Blip2.Cli.Serving;

/// <summary>The retriever of a served retrieval model, one call at a time off the request thread.</summary>
internal static class Retrieval
{
    public static Blip2Retriever RetrieverOf(ServedModel served, string endpoint) => served.Retriever ?? throw new ApiException(HttpStatusCode.NotFound,
        $"the model '{served.Id}' is a captioning model: {endpoint} needs an image-text retrieval checkpoint (e.g. blip2-itm-vit-g)", code: "unsupported_endpoint");

    public static async Task<T> RunAsync<T>(ServedModel served, CancellationToken cancellationToken, Func<T> work)
    {
        await served.RetrievalGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { return await Task.Run(work, cancellationToken).ConfigureAwait(false); }
        finally { served.RetrievalGate.Release(); }
    }
}
