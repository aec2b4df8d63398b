using Blip2.Cli;
using Blip2Compiler.AI;
using Blip2Compiler.Processing;
using Blip2Compiler.Tests.CommandLine;
using Microsoft.Extensions.AI;
using TorchSharp;

namespace Blip2Compiler.Tests.AI;

/// <summary>
/// Everything built on a model, used after the model is disposed, throws <see cref="ObjectDisposedException"/>
/// (it said "Tensor invalid -- empty handle" from libtorch before).
/// </summary>
public class DisposedModelTests
{
    [Fact]
    public async Task CaptionerAndChatClientSayTheModelIsDisposed()
    {
        var model = BundledTinyOpt.Load(CliRun.TinyOpt);
        var captioner = Blip2Captioner.FromCheckpoint(model);
        using var chat = new Blip2ChatClient(captioner);
        model.Dispose();
        model.Dispose();   // twice is fine
        Assert.True(model.IsDisposed);

        var photo = ImageSource.FromFile(CliRun.Photo);
        Assert.Throws<ObjectDisposedException>(() => captioner.Caption([photo]));
        Assert.Throws<ObjectDisposedException>(() => captioner.CaptionStreaming(photo, null, null, _ => { }));
        using var pixels = torch.zeros(1, 3, model.ModelInfo.ImageSize, model.ModelInfo.ImageSize);
        Assert.Throws<ObjectDisposedException>(() => model.Generate(pixels));
        ChatMessage[] turn = [new(ChatRole.User, [new DataContent(TinyModels.PhotoBytes, "image/png")])];
        await Assert.ThrowsAsync<ObjectDisposedException>(() => chat.GetResponseAsync(turn));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await chat.GetStreamingResponseAsync(turn).ToListAsync());
    }

    [Fact]
    public async Task RetrieverAndEmbeddingGeneratorsSayTheModelIsDisposed()
    {
        var model = BundledTinyItm.Load(CliRun.TinyItm);
        var retriever = Blip2Retriever.FromCheckpoint(model);
        using var texts = new Blip2EmbeddingGenerator(retriever);
        using var images = new Blip2ImageEmbeddingGenerator(retriever);
        model.Dispose();

        var photo = ImageSource.FromFile(CliRun.Photo);
        Assert.Throws<ObjectDisposedException>(() => retriever.Match(photo, ["an astronaut"]));
        Assert.Throws<ObjectDisposedException>(() => retriever.EmbedTexts(["an astronaut"]));
        Assert.Throws<ObjectDisposedException>(() => retriever.EmbedImages([photo]));
        using var ids = torch.ones(1, 3, dtype: torch.ScalarType.Int64);
        Assert.Throws<ObjectDisposedException>(() => model.GetTextEmbeds(ids));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => texts.GenerateAsync(["an astronaut"]));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => images.GenerateAsync([new DataContent(TinyModels.PhotoBytes, "image/png")]));
    }
}
