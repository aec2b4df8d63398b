using System.CommandLine;
using Blip2.Cli.Serving;
using Blip2Compiler.AI;
using Blip2Compiler.Models;
using Blip2Compiler.Serving;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Blip2.Cli.Commands;

/// <summary>
/// <c>blip2 serve</c>: an OpenAI-compatible HTTP server for the checkpoint (chat completions for captioning models,
/// embeddings and match for retrieval ones). Prints the address it listens on; SIGTERM or Ctrl+C drains and exits 0.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CommonOptions common, CliContext context)
    {
        var host = new Option<string>("--host") { Description = "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: a free one, printed).", DefaultValueFactory = _ => 8000 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on /v1 requests (default: BLIP2_API_KEY, else none)." };
        var maxBatch = new Option<int>("--max-batch") { Description = "Rows decoded together at most.", DefaultValueFactory = _ => 8 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests that may wait; more are refused with 429.", DefaultValueFactory = _ => 64 };
        var maxBodyMb = new Option<int>("--max-body-mb") { Description = "Largest request body in MiB; larger ones are refused with 413.", DefaultValueFactory = _ => 20 };
        var admissionWindow = new Option<int>("--admission-window-ms")
        {
            Description = "With no row decoding, how long the engine waits for more requests after one arrives, to encode them together (0: none; at most 4x this in all).",
            DefaultValueFactory = _ => (int)new EngineOptions().AdmissionWindow.TotalMilliseconds,
        };
        var remote = new Option<bool>("--allow-remote-images") { Description = "Fetch http(s) image URLs (off: only data: URLs, no server-side requests)." };
        var engine = new Option<string>("--engine")
        {
            Description = "How requests share the model: continuous (rows of one batched decoding loop, joining and leaving at every step) or sequential (one request at a time).",
            DefaultValueFactory = _ => "continuous",
        };
        // Off by default here, unlike the one-shot commands: a mapped parameter is the checkpoint file's own pages, so a
        // deploy that overwrites model.safetensors in place (cp over it) while the server runs kills the process with
        // SIGBUS at its next request (bench load-truncate: exit 135 mapped, the copy survives). A server pays the
        // copy once at start-up (opt-2.7b float32: 16 s copied; the mapped load is bound by cat's 1.8 s) to never die of it.
        var zeroCopy = new Option<bool>("--zero-copy")
        {
            Description = "Map weights the checkpoint already holds in the loaded dtype instead of copying them: a faster start, but overwriting the checkpoint file in place while the server runs kills it (SIGBUS). Off by default.",
        };
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API (chat completions, embeddings, match), with a playground page at /.")
        {
            host, port, apiKey, maxBatch, maxQueue, admissionWindow, maxBodyMb, remote, engine, zeroCopy,
        };
        command.SetAction((parse, cancel) => RunAsync(common.Read(parse, context), new Settings(
            parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("BLIP2_API_KEY"),
            parse.GetValue(maxBatch), parse.GetValue(maxQueue), parse.GetValue(admissionWindow), parse.GetValue(maxBodyMb), parse.GetValue(remote),
            parse.GetValue(engine)!, parse.GetValue(zeroCopy)), cancel));
        return command;
    }

    private sealed record Settings(string Host, int Port, string? ApiKey, int MaxBatch, int MaxQueue, int AdmissionWindowMs, int MaxBodyMb,
        bool AllowRemoteImages, string Engine, bool ZeroCopy);

    private static async Task<int> RunAsync(RunSettings run, Settings settings, CancellationToken cancel)
    {
        if (settings.Port is < 0 or > 65535) throw new UsageException($"--port must be 0 to 65535, got {settings.Port}");
        if (settings.MaxBatch < 1) throw new UsageException($"--max-batch must be at least 1, got {settings.MaxBatch}");
        if (settings.MaxQueue < 0) throw new UsageException($"--max-queue must not be negative, got {settings.MaxQueue}");
        if (settings.AdmissionWindowMs is < 0 or > 10_000) throw new UsageException($"--admission-window-ms must be 0 to 10000, got {settings.AdmissionWindowMs}");
        if (settings.MaxBodyMb < 1) throw new UsageException($"--max-body-mb must be at least 1, got {settings.MaxBodyMb}");
        if (settings.Engine is not ("continuous" or "sequential")) throw new UsageException($"--engine must be continuous or sequential, got '{settings.Engine}'");
        if (settings.ApiKey is { Length: 0 }) throw new UsageException("--api-key is empty");
        var options = new ServerOptions
        {
            ApiKey = settings.ApiKey, MaxBodyBytes = settings.MaxBodyMb * 1024L * 1024, AllowRemoteImages = settings.AllowRemoteImages,
        };

        // Batched decoding: libgomp's spinning workers must not take the cores from SkinnyGemm (OpenMpWaitPolicy).
        Blip2Compiler.OpenMpWaitPolicy.ApplyPassiveDefault();
        Blip2Compiler.MallocReuse.Apply();   // intermediates reuse freed memory instead of faulting it in again (Devices/MallocReuse.cs)
        await using var served = await Task.Run(() => Load(run, settings), cancel).ConfigureAwait(false);
        using var host = Blip2Server.Build(served, options, settings.Host, settings.Port);
        try
        {
            await host.StartAsync(cancel).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new UsageException($"cannot listen on {settings.Host}:{settings.Port}: {e.Message}");
        }
        var addresses = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses) run.Out.WriteLine($"blip2: serving {served.Id} on {address}");
        run.Out.Flush();
        await host.WaitForShutdownAsync(cancel).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    private static ServedModel Load(RunSettings run, Settings settings)
    {
        var directory = run.Model is { } given ? ModelLocation.Resolve(given, run.Environment) : ModelCatalog.BundledCheckpoint(ModelCatalog.TinyOpt);
        var compiled = ModelCatalog.Resolve(directory);
        var model = compiled.Load(directory, run.LoadOptions(dropFileCache: true) with { ZeroCopy = settings.ZeroCopy });
        if (run.Model is null)
            run.Error.WriteLine($"blip2: note: serving the bundled tiny checkpoint {ModelCatalog.TinyOpt}: RANDOM WEIGHTS, the output is meaningless; pass --model <folder> for a real checkpoint");
        try
        {
            if (compiled.Kind == ModelKind.Retrieval)
                return ServedModel.ForRetrieval(compiled.Name, Blip2Retriever.FromCheckpoint((ImageTextRetrieval)model, directory), model);
            var captioner = Blip2Captioner.FromCheckpoint(model, directory);
            // At start-up, once, as caption and ask print them: keys of generation_config.json this engine ignores.
            foreach (var note in captioner.DefaultsNotes) run.Note(note);
            var engineOptions = new EngineOptions
            {
                MaxBatch = settings.MaxBatch,
                MaxQueue = settings.MaxQueue,
                AdmissionWindow = TimeSpan.FromMilliseconds(settings.AdmissionWindowMs),
                // Tests only (see EngineOptions.StepPause); unset or not a number: no pause.
                StepPause = int.TryParse(Environment.GetEnvironmentVariable("BLIP2_ENGINE_STEP_PAUSE_MS"), out var pause) && pause > 0
                    ? TimeSpan.FromMilliseconds(Math.Min(pause, 1000)) : TimeSpan.Zero,
            };
            IGenerationEngine engine = settings.Engine == "sequential"
                ? new SequentialEngine(captioner, engineOptions)
                : new ContinuousBatchingEngine(captioner, engineOptions);
            return ServedModel.ForGeneration(compiled.Name, engine, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
