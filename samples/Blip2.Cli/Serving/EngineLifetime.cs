using Microsoft.Extensions.Hosting;

namespace Blip2.Cli.Serving;

/// <summary>
/// On shutdown (SIGTERM, Ctrl+C): /ready turns 503, the engine stops taking requests and finishes the ones it has,
/// waiting at most <see cref="ServerOptions.DrainTimeout"/> before cancelling the rest. Kestrel meanwhile stops
/// accepting connections and waits for the in-flight responses.
/// </summary>
public sealed class EngineLifetime(ServedModel served, ServerOptions options) : IHostedService
{
    public bool Draining { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Draining = true;
        if (served.Engine is null) return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.DrainTimeout);
        await served.Engine.DrainAsync(timeout.Token).ConfigureAwait(false);
    }
}
