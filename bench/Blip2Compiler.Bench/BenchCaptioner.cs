using Blip2Compiler.AI;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Bench;

/// <summary>
/// A captioner for a random-weight benchmark model: the default BLIP-2 image processor (224 px, CLIP normalization)
/// and a stand-in tokenizer with the model's special ids, whose text is the ids themselves. Captioning prompts have
/// no text, so the prompt is what <see cref="BenchInputs.CaptionPrompt"/> builds (image tokens + BOS).
/// </summary>
public static class BenchCaptioner
{
    public static Blip2Captioner For(Blip2ModelBase model) =>
        new(model, new Blip2ImageProcessor(), new IdTokenizer(model.ModelInfo), new Generation.GenerationOptions());

    /// <summary>The bundled photo (samples/assets/astronaut.png), read once.</summary>
    public static ImageSource Photo { get; } = ImageSource.FromBytes(File.ReadAllBytes(FindPhoto()));

    private static string FindPhoto()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "samples", "assets", "astronaut.png");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("samples/assets/astronaut.png not found above " + AppContext.BaseDirectory);
    }

    private sealed class IdTokenizer(ModelInfo info) : ITextTokenizer
    {
        public string Kind => "ids";
        public int VocabSize => (int)info.VocabSize;
        public int? BosTokenId => info.BosTokenId is long b ? (int)b : null;
        public int? EosTokenId => info.EosTokenId is long e ? (int)e : null;
        public int? PadTokenId => info.PadTokenId is long p ? (int)p : null;
        public int? UnkTokenId => null;
        public int NumSpecialTokensToAdd => BosTokenId is null ? 0 : 1;
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) =>
            addSpecialTokens ? BuildInputsWithSpecialTokens([]) : [];
        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) => string.Join(' ', ids);
        public int? TokenToId(string token) => null;
        public IReadOnlyList<int> BuildInputsWithSpecialTokens(IReadOnlyList<int> ids) => BosTokenId is { } bos ? [bos, .. ids] : [.. ids];
    }
}
