using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using TorchSharp;

namespace Blip2.Cli.Jobs;

/// <summary>What a job does with a batch of preprocessed images: caption them or embed them.</summary>
internal abstract class JobTask(string name, string model, Blip2ImageProcessor images)
{
    /// <summary>caption or embed.</summary>
    public string Name { get; } = name;

    /// <summary>The model id records carry.</summary>
    public string Model { get; } = model;

    /// <summary>The checkpoint's image processor: the pipeline decodes and resizes with it on its own threads.</summary>
    public Blip2ImageProcessor Images { get; } = images;

    /// <summary>One record per sample, in order; <paramref name="pixels"/> is [B, 3, H, W] for the B samples.</summary>
    public abstract IReadOnlyList<JobRecord> Run(torch.Tensor pixels, IReadOnlyList<JobSample> samples);
}

internal sealed class CaptionTask(Blip2Captioner captioner, string model, string? prompt, GenerationOptions options)
    : JobTask("caption", model, captioner.Images)
{
    public override IReadOnlyList<JobRecord> Run(torch.Tensor pixels, IReadOnlyList<JobSample> samples)
    {
        var texts = captioner.Caption(pixels, [.. samples.Select(_ => prompt)], options);
        return [.. samples.Select((s, i) => JobRecord.For(s, Model) with { Caption = texts[i] })];
    }
}

internal sealed class EmbedTask(Blip2Retriever retriever, string model) : JobTask("embed", model, retriever.Images)
{
    public override IReadOnlyList<JobRecord> Run(torch.Tensor pixels, IReadOnlyList<JobSample> samples)
    {
        var vectors = retriever.EmbedImages(pixels);
        return [.. samples.Select((s, i) => JobRecord.For(s, Model) with { Embedding = vectors[i] })];
    }
}
