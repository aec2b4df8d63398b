using Blip2Compiler.AI;
using Blip2Compiler.Models;
using Blip2Compiler.Serving;

namespace Blip2.Cli.Serving;

/// <summary>
/// The one checkpoint a server serves: a captioning model behind a generation engine (chat completions), or a
/// retrieval model behind a retriever (embeddings, match). Owns the engine; owns the model when told to.
/// </summary>
public sealed class ServedModel : IAsyncDisposable
{
    private readonly Blip2ModelBase? _owned;

    private ServedModel(string id, IGenerationEngine? engine, Blip2Retriever? retriever, Blip2ModelBase? owned)
    {
        Id = id;
        Engine = engine;
        Retriever = retriever;
        _owned = owned;
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    /// <summary>The model id requests name (the checkpoint's compiled name, e.g. blip2-opt-2.7b).</summary>
    public string Id { get; }

    /// <summary>Unix time the server loaded it (OpenAI's <c>created</c>).</summary>
    public long Created { get; }

    /// <summary>"generation" (chat completions) or "retrieval" (embeddings, match).</summary>
    public string Kind => Engine is null ? "retrieval" : "generation";

    public IGenerationEngine? Engine { get; }
    public Blip2Retriever? Retriever { get; }

    /// <summary>Retrieval calls run one at a time: each already uses every core for its matrix products.</summary>
    public SemaphoreSlim RetrievalGate { get; } = new(1, 1);

    public static ServedModel ForGeneration(string id, IGenerationEngine engine, Blip2ModelBase? owned = null) =>
        new(id, engine ?? throw new ArgumentNullException(nameof(engine)), null, owned);

    public static ServedModel ForRetrieval(string id, Blip2Retriever retriever, Blip2ModelBase? owned = null) =>
        new(id, null, retriever ?? throw new ArgumentNullException(nameof(retriever)), owned);

    public async ValueTask DisposeAsync()
    {
        if (Engine is not null) await Engine.DisposeAsync().ConfigureAwait(false);
        _owned?.Dispose();
        RetrievalGate.Dispose();
    }
}
