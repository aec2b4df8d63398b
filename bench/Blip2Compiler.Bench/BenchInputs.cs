using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Bench;

/// <summary>
/// Inputs the model benchmarks feed, made the same way in bench/reference.py: random pixel values (seeded), the
/// reference processor's captioning prompt (image tokens + BOS for OPT, image tokens + EOS for T5), and fixed
/// text ids for retrieval.
/// </summary>
public static class BenchInputs
{
    public const int CaptionTokens = 30;
    public const int TextTokens = 32;

    public static Tensor Pixels(Blip2ModelBase model, long batch)
    {
        var size = model.ModelInfo.ImageSize;
        // Drawn on the CPU (a TorchSharp Generator is a CPU generator), then moved: the same pixels on every device.
        using var generator = new Generator(1234, torch.CPU);
        return torch.randn(new[] { batch, 3, size, size }, ScalarType.Float32, torch.CPU, generator: generator).to(model.DType, model.Device);
    }

    /// <summary>The captioning prompt for each image: what Blip2Processor builds for an image and no text.</summary>
    public static Tensor CaptionPrompt(Blip2ModelBase model, long batch)
    {
        var info = model.ModelInfo;
        var row = new List<long>();
        if (info.ImageTokenIndex is long image) for (var i = 0; i < info.NumQueryTokens; i++) row.Add(image);
        if (model is T5ConditionalGeneration) row.Add(info.EosTokenId ?? 1);
        else if (info.BosTokenId is long bos) row.Add(bos);
        return torch.tensor(row.ToArray(), dtype: ScalarType.Int64, device: model.Device).unsqueeze(0).expand(batch, -1).contiguous();
    }

    /// <summary>Exactly <paramref name="tokens"/> new tokens (EOS suppressed before), greedy or beam search.</summary>
    public static GenerationOptions Caption(int tokens, int beams) =>
        new() { MaxNewTokens = tokens, MinNewTokens = tokens, NumBeams = beams, DoSample = false };

    /// <summary>Generates captions for the images, whatever the language model.</summary>
    public static GenerationResult Generate(Blip2ModelBase model, Tensor pixels, Tensor prompt, GenerationOptions options) => model switch
    {
        OptConditionalGeneration opt => opt.Generate(pixels, prompt, null, options),
        T5ConditionalGeneration t5 => t5.Generate(pixels, prompt, null, options),
        _ => throw new ArgumentException($"{model.GetType().Name} does not generate text"),
    };

    /// <summary>[CLS] followed by fixed word-piece ids: the length, not the words, sets the cost.</summary>
    public static Tensor Text(Blip2ModelBase model, long batch)
    {
        var ids = torch.arange(1000, 1000 + batch * TextTokens, dtype: ScalarType.Int64, device: model.Device).reshape(batch, TextTokens);
        ids[TensorIndex.Colon, 0] = torch.tensor(101L, device: model.Device);
        return ids;
    }
}
