using Blip2.Cli;
using Blip2.Cli.Serving;
using Blip2Compiler.AI;
using Blip2Compiler.Models;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Server.Tests.Http;

/// <summary>
/// The tiny captioning model served in-process with an API key on the continuous-batching engine (what
/// <c>blip2 serve</c> runs), and the captioner answers are checked against.
/// </summary>
public class CaptioningServer : IAsyncLifetime
{
    public const string Key = "test-key";
    private readonly OptConditionalGeneration _model = BundledTinyOpt.Load(TinyModels.TinyOpt);

    public CaptioningServer() : this(captioner => new ContinuousBatchingEngine(captioner, new EngineOptions { MaxBatch = 4 })) { }

    protected CaptioningServer(Func<Blip2Captioner, IGenerationEngine> engine)
    {
        Captioner = Blip2Captioner.FromCheckpoint(_model);
        Server = new InProcessServer(ServedModel.ForGeneration("blip2-tiny-opt", engine(Captioner)),
            new ServerOptions { ApiKey = Key, MaxBodyBytes = 4 * 1024 * 1024 });
    }

    public Blip2Captioner Captioner { get; }
    public InProcessServer Server { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _model.Dispose();
    }
}

/// <summary>The same on the sequential engine (<c>blip2 serve --engine sequential</c>).</summary>
public sealed class SequentialCaptioningServer() : CaptioningServer(captioner => new SequentialEngine(captioner));

/// <summary>
/// The bundled tiny Flan-T5 checkpoint served in-process (no key) on the continuous-batching engine, its T5 rows
/// batched, and the captioner answers are checked against.
/// </summary>
public sealed class T5CaptioningServer : IAsyncLifetime
{
    private readonly T5ConditionalGeneration _model = BundledTinyT5.Load(TinyModels.TinyT5);

    public T5CaptioningServer()
    {
        Captioner = Blip2Captioner.FromCheckpoint(_model);
        // Steps that last a few milliseconds, so callers sent together overlap however fast the tiny model decodes.
        Engine = new ContinuousBatchingEngine(Captioner, new EngineOptions { MaxBatch = 4, StepPause = TimeSpan.FromMilliseconds(5) });
        Server = new InProcessServer(ServedModel.ForGeneration("blip2-tiny-t5", Engine), new ServerOptions { MaxBodyBytes = 4 * 1024 * 1024 });
    }

    public Blip2Captioner Captioner { get; }
    public ContinuousBatchingEngine Engine { get; }
    public InProcessServer Server { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _model.Dispose();
    }
}

/// <summary>The tiny retrieval model served in-process (no key), and its retriever.</summary>
public sealed class RetrievalServer : IAsyncLifetime
{
    private readonly ImageTextRetrieval _model = BundledTinyItm.Load(TinyModels.TinyItm);

    public RetrievalServer()
    {
        Retriever = Blip2Retriever.FromCheckpoint(_model);
        Server = new InProcessServer(ServedModel.ForRetrieval("blip2-tiny-itm", Retriever), new ServerOptions());
    }

    public Blip2Retriever Retriever { get; }
    public InProcessServer Server { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _model.Dispose();
    }
}
