using Blip2Compiler.Models;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

internal static class ModelIds
{
    /// <summary>The checkpoint folder's name, else the compiled architecture.</summary>
    public static string Of(Blip2ModelBase model) =>
        model.CheckpointDirectory is { } dir ? Path.GetFileName(Path.TrimEndingDirectorySeparator(dir)) : model.ModelInfo.Architecture;

    public static GeneratedEmbeddings<Embedding<float>> Wrap(float[][] vectors, string modelId)
    {
        var now = DateTimeOffset.UtcNow;
        return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = modelId, CreatedAt = now }));
    }
}
