using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>
/// Image embeddings from a BLIP-2 retrieval model, for <see cref="DataContent"/> images (image/* media type): the
/// normalized mean of the normalized query embeddings, in the space of <see cref="Blip2EmbeddingGenerator"/>.
/// </summary>
public sealed class Blip2ImageEmbeddingGenerator : IEmbeddingGenerator<DataContent, Embedding<float>>
{
    private readonly EmbeddingGeneratorMetadata _metadata;

    public Blip2ImageEmbeddingGenerator(Blip2Retriever retriever, string? modelId = null)
    {
        Retriever = retriever ?? throw new ArgumentNullException(nameof(retriever));
        ModelId = modelId ?? ModelIds.Of(retriever.Model);
        _metadata = new EmbeddingGeneratorMetadata("blip2compiler", null, ModelId, retriever.Dimensions);
    }

    public Blip2Retriever Retriever { get; }

    public string ModelId { get; }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<DataContent> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var images = values.Select(ChatContentReader.ToImageSource).ToList();
        var vectors = await Task.Run(() => Retriever.EmbedImages(images), cancellationToken).ConfigureAwait(false);
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
