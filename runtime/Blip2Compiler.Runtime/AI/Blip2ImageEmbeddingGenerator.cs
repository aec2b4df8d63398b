using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>
/// Image embeddings from a BLIP-2 retrieval model, for <see cref="DataContent"/> images (image/* media type): the
/// normalized mean of the normalized query embeddings, in the space of <see cref="Blip2EmbeddingGenerator"/>.
/// </summary>
public sealed class Blip2ImageEmbeddingGenerator(Blip2Retriever retriever, string? modelId = null)
    : Blip2EmbeddingGeneratorBase<DataContent>(retriever, modelId)
{
    protected override float[][] Embed(IReadOnlyList<DataContent> inputs) =>
        Retriever.EmbedImages(inputs.Select(ChatContentReader.ToImageSource).ToList());
}
