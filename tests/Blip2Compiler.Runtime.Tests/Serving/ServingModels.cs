using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Tests.Serving;

// The bundled tiny OPT checkpoint (random weights, with its tokenizer and image processor), compiled from its config.
[Blip2Model("blip2-tiny-opt/config.json")] public partial class ServingTinyOpt;

/// <summary>The tiny OPT captioner, loaded once per test class, and what a lone call gives for a request.</summary>
public sealed class ServingModels : IDisposable
{
    public ServingModels()
    {
        Opt = ServingTinyOpt.Load(Path.Combine(Fixtures.Root, "..", "..", "samples", "checkpoints", "blip2-tiny-opt"));
        Captioner = Blip2Captioner.FromCheckpoint(Opt);
        Processor = new Blip2Processor(Captioner.Images, Captioner.Tokenizer, (int)Opt.ModelInfo.NumQueryTokens, (int?)Opt.ModelInfo.ImageTokenIndex);
    }

    public OptConditionalGeneration Opt { get; }
    public Blip2Captioner Captioner { get; }
    public Blip2Processor Processor { get; }

    /// <summary>The photographs and synthetic images of the image-processor fixtures.</summary>
    public static ImageSource Image(int i)
    {
        string[] names = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "gradient.png", "color.png", "motorcycle_left.png", "xor_gray.png"];
        return ImageSource.FromFile(Path.Combine(Fixtures.Golden("image-processor"), names[i % names.Length]));
    }

    /// <summary>
    /// What one lone <c>Generate</c> call gives for the request: each returned row's new tokens up to and including
    /// its EOS (the pad filling after it dropped), with the captioner's defaults under the options.
    /// </summary>
    public long[][] LoneTokens(EngineRequest request)
    {
        var inputs = Processor.Process([request.Image], [request.Prompt]);
        var options = GenerationDefaults.Merge(Captioner.Defaults, request.Options);
        var result = Opt.Generate(inputs.PixelValues, inputs.InputIds, inputs.AttentionMask, options);
        var eos = new HashSet<long>(Opt.GenerationSettings(options).EosTokenIds ?? []);
        var rows = (options.NumBeams ?? 1) > 1 ? result.NewTokens.Take(options.NumReturnSequences ?? 1) : result.NewTokens;
        return [.. rows.Select(t => t.TakeWhile((_, i) => i == 0 || !eos.Contains(t[i - 1])).ToArray())];
    }

    public void Dispose() => Opt.Dispose();
}
