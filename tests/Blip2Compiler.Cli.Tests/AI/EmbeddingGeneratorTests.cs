using Blip2Compiler.AI;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.Tests.AI;

/// <summary>The text and image embedding generators through IEmbeddingGenerator.</summary>
public class EmbeddingGeneratorTests(TinyModels models) : IClassFixture<TinyModels>
{
    private static double Norm(ReadOnlyMemory<float> v) => Math.Sqrt(v.ToArray().Sum(x => (double)x * x));

    [Fact]
    public async Task TextsGiveUnitVectorsOfTheProjectionWidth()
    {
        using IEmbeddingGenerator<string, Embedding<float>> generator = new Blip2EmbeddingGenerator(models.Retriever);
        var embeddings = await generator.GenerateAsync(["an astronaut", "a bowl of soup on a wooden table"]);
        Assert.Equal(2, embeddings.Count);
        foreach (var e in embeddings)
        {
            Assert.Equal(24, e.Vector.Length);
            Assert.Equal(1.0, Norm(e.Vector), 4);
        }
        Assert.NotEqual(embeddings[0].Vector.ToArray(), embeddings[1].Vector.ToArray());
        Assert.Equal(24, generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);
    }

    [Fact]
    public async Task ATextEmbedsTheSameAloneOrInABatch()
    {
        using var generator = new Blip2EmbeddingGenerator(models.Retriever);
        var alone = await generator.GenerateAsync(["an astronaut"]);
        var batched = await generator.GenerateAsync(["a much longer text about a bowl of soup", "an astronaut"]);
        Assert.Equal(alone[0].Vector.ToArray(), batched[1].Vector.ToArray(), (a, b) => Math.Abs(a - b) < 1e-5);
    }

    [Fact]
    public async Task ImagesGiveUnitVectorsInTheSameSpace()
    {
        using IEmbeddingGenerator<DataContent, Embedding<float>> generator = new Blip2ImageEmbeddingGenerator(models.Retriever);
        var embeddings = await generator.GenerateAsync([new DataContent(TinyModels.PhotoBytes, "image/png")]);
        var e = Assert.Single(embeddings);
        Assert.Equal(24, e.Vector.Length);
        Assert.Equal(1.0, Norm(e.Vector), 4);
        Assert.Equal("blip2-tiny-itm", e.ModelId);
    }

    [Fact]
    public async Task ANonImageIsRefused()
    {
        using var generator = new Blip2ImageEmbeddingGenerator(models.Retriever);
        await Assert.ThrowsAnyAsync<Blip2Exception>(() => generator.GenerateAsync([new DataContent(new byte[] { 1, 2 }, "text/plain")]));
    }
}
