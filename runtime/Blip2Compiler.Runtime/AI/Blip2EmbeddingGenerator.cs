namespace Blip2Compiler.AI;

/// <summary>
/// Text embeddings from a BLIP-2 retrieval model: the projected, L2-normalized [CLS] embedding, in the same space
/// as <see cref="Blip2ImageEmbeddingGenerator"/> (cosine similarity = dot product).
/// </summary>
public sealed class Blip2EmbeddingGenerator(Blip2Retriever retriever, string? modelId = null)
    : Blip2EmbeddingGeneratorBase<string>(retriever, modelId)
{
    protected override float[][] Embed(IReadOnlyList<string> inputs) => Retriever.EmbedTexts(inputs);
}
