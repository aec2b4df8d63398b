using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>
/// Text embeddings from a BLIP-2 retrieval model: the projected, L2-normalized [CLS] embedding, in the same space
/// as <see cref="Blip2ImageEmbeddingGenerator"/> (cosine similarity = dot product).
/// </summary>
public sealed class Blip2EmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly EmbeddingGeneratorMetadata _metadata;

    public Blip2EmbeddingGenerator(Blip2Retriever retriever, string? modelId = null)
    {
        Retriever = retriever ?? throw new ArgumentNullException(nameof(retriever));
        ModelId = modelId ?? ModelIds.Of(retriever.Model);
        _metadata = new EmbeddingGeneratorMetadata("blip2compiler", null, ModelId, retriever.Dimensions);
    }

    public Blip2Retriever Retriever { get; }

    public string ModelId { get; }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values.ToList();
        var vectors = await Task.Run(() => Retriever.EmbedTexts(texts), cancellationToken).ConfigureAwait(false);
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
