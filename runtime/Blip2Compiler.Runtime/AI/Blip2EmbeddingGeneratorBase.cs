using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>
/// What the text and image embedding generators share: the retriever they embed with, its model id and dimensions
/// in the metadata, and the service lookup. A subclass says how to embed its inputs.
/// </summary>
public abstract class Blip2EmbeddingGeneratorBase<TInput> : IEmbeddingGenerator<TInput, Embedding<float>>
{
    private readonly EmbeddingGeneratorMetadata _metadata;

    protected Blip2EmbeddingGeneratorBase(Blip2Retriever retriever, string? modelId)
    {
        Retriever = retriever ?? throw new ArgumentNullException(nameof(retriever));
        ModelId = modelId ?? ModelIds.Of(retriever.Model);
        _metadata = new EmbeddingGeneratorMetadata("blip2compiler", null, ModelId, retriever.Dimensions);
    }

    public Blip2Retriever Retriever { get; }

    public string ModelId { get; }

    /// <summary>One embedding row per input, in order (runs on the thread pool: the model call blocks).</summary>
    protected abstract float[][] Embed(IReadOnlyList<TInput> inputs);

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<TInput> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        Retriever.Model.ThrowIfDisposed();
        var inputs = values.ToList();
        var vectors = await Task.Run(() => Embed(inputs), cancellationToken).ConfigureAwait(false);
        return ModelIds.Wrap(vectors, ModelId);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(Retriever) ? Retriever
        : null;

    /// <summary>The generator does not own the model: dispose it yourself.</summary>
    public void Dispose() { }
}
