using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Microsoft.Extensions.AI;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Tests.AI;

/// <summary>
/// Seeded sweep of odd user input through the high-level APIs on the bundled tiny checkpoints (real tokenizers):
/// captions, chat, matching and embeddings with empty, blank, 10,000-character and control-character texts and
/// 1×1 or extreme-aspect images. Every case gives a result or a <see cref="Blip2Exception"/>, nothing else.
/// </summary>
public class InputSweepTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task OddTextsAndImagesGiveAResultOrATypedError()
    {
        var random = new Random(12);
        using var chat = new Blip2ChatClient(models.Captioner);
        using var embedder = new Blip2EmbeddingGenerator(models.Retriever);
        using var imageEmbedder = new Blip2ImageEmbeddingGenerator(models.Retriever);
        var options = new GenerationOptions { MaxNewTokens = 3 };
        for (var round = 0; round < 8; round++)
        {
            var text = RandomText(random);
            var (png, size) = RandomImage(random);
            var image = ImageSource.FromBytes(png);
            var what = $"round {round}: {size} image, text of {text.Length} chars";
            Outcome(what + ", caption", () => models.Captioner.Caption([image], [text], options));
            Outcome(what + ", match", () => models.Retriever.Match(image, [text, "a photo"]));
            Outcome(what + ", embed texts", () => models.Retriever.EmbedTexts([text]));
            Outcome(what + ", embed images", () => models.Retriever.EmbedImages([image]));
            await OutcomeAsync(what + ", chat", () => chat.GetResponseAsync([new ChatMessage(ChatRole.User, [new DataContent(png, "image/png"), new TextContent(text)])], new ChatOptions { MaxOutputTokens = 3 }));
            await OutcomeAsync(what + ", text embedding", () => embedder.GenerateAsync([text]));
            await OutcomeAsync(what + ", image embedding", () => imageEmbedder.GenerateAsync([new DataContent(png, "image/png")]));
        }
    }

    private static string RandomText(Random random) => random.Next(6) switch
    {
        0 => "",
        1 => " \t\n ",
        2 => new string('a', 10_000),
        3 => string.Concat(Enumerable.Range(0, 40).Select(_ => (char)random.Next(0, 32))),
        4 => "\uD800 unpaired \uFFFF surrogate \u0000",
        _ => string.Join(' ', Enumerable.Range(0, random.Next(1, 400)).Select(_ => "word" + random.Next(100))),
    };

    private static (byte[], string) RandomImage(Random random)
    {
        var (width, height) = random.Next(3) switch { 0 => (1, 1), 1 => (4000, 1), _ => (1, 3000) };
        using var image = new Image<Rgb24>(width, height);
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return (stream.ToArray(), $"{width}×{height}");
    }

    private static void Outcome(string what, Func<object> run)
    {
        try { run(); }
        catch (Blip2Exception) { }
        catch (Exception e) { throw new Xunit.Sdk.XunitException($"{what}\n{e.GetType().FullName}: {e.Message}"); }
    }

    private static async Task OutcomeAsync<T>(string what, Func<Task<T>> run)
    {
        try { await run(); }
        catch (Blip2Exception) { }
        catch (Exception e) { throw new Xunit.Sdk.XunitException($"{what}\n{e.GetType().FullName}: {e.Message}"); }
    }
}
