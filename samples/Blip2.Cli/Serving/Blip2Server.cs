using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Blip2.Cli.Serving;

/// <summary>
/// The OpenAI-compatible server of <c>blip2 serve</c>: minimal-API endpoints over a <see cref="ServedModel"/>. The
/// HTTP layer only translates: requests → engine requests, completions → OpenAI JSON or server-sent events, failures
/// → OpenAI error JSON with the right status. The same services and pipeline run under Kestrel (<see cref="Build"/>)
/// and under the test server (<see cref="Configure(IWebHostBuilder, ServedModel, ServerOptions)"/>).
/// </summary>
public static class Blip2Server
{
    /// <summary>The playground page and its script, copied next to the tool.</summary>
    public static string PlaygroundFolder => Path.Combine(AppContext.BaseDirectory, "wwwroot");

    /// <summary>A Kestrel host listening on <paramref name="host"/>:<paramref name="port"/> (0: a free port).</summary>
    public static IHost Build(ServedModel served, ServerOptions options, string host, int port)
    {
        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var ip) ? ip
            : throw new UsageException($"--host must be an IP address (127.0.0.1, 0.0.0.0, ::) or localhost, got '{host}'");
        return new HostBuilder()
            .UseConsoleLifetime(o => o.SuppressStatusMessages = true)
            .ConfigureLogging(logging => logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning))
            .ConfigureServices(s => s.Configure<HostOptions>(o => o.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(5)))
            .ConfigureWebHost(web => Configure(web.UseKestrel(k =>
            {
                k.AddServerHeader = false;
                k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
                k.Listen(address, port);
            }), served, options))
            .Build();
    }

    /// <summary>The server's services and request pipeline on a web host builder (Kestrel or a test server).</summary>
    public static IWebHostBuilder Configure(IWebHostBuilder web, ServedModel served, ServerOptions options) => web
        .ConfigureServices(services =>
        {
            services.AddSingleton(served);
            services.AddSingleton(options);
            services.AddSingleton<ServerMetrics>();
            services.AddHttpClient("images", c => c.Timeout = TimeSpan.FromSeconds(15));
            services.AddSingleton(sp => new ImageUrls(options, sp.GetRequiredService<IHttpClientFactory>()));
            services.AddSingleton<EngineLifetime>();
            services.AddHostedService(sp => sp.GetRequiredService<EngineLifetime>());
            services.AddRouting();
        })
        .Configure(Pipeline);

    private static void Pipeline(IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<ServerOptions>();
        var metrics = app.ApplicationServices.GetRequiredService<ServerMetrics>();
        app.Use((http, next) => ErrorsAndMetrics(http, next, options, metrics));
        app.Use((http, next) => Authorize(http, next, options));
        if (Directory.Exists(PlaygroundFolder))
        {
            var files = new PhysicalFileProvider(PlaygroundFolder);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }
        app.UseRouting();
        app.UseEndpoints(Map);
        app.Run(http => throw new ApiException(HttpStatusCode.NotFound, $"Unknown request URL: {http.Request.Method} {http.Request.Path}.", code: "unknown_url"));
    }

    private static void Map(IEndpointRouteBuilder e)
    {
        e.MapGet("/health", () => Results.Json(new { status = "ok" }));
        // kind: what the model serves (generation: chat completions; retrieval: embeddings and match).
        e.MapGet("/ready", (ServedModel served, EngineLifetime lifetime) => lifetime.Draining
            ? Results.Json(new { status = "draining", model = served.Id, kind = served.Kind }, statusCode: 503)
            : Results.Json(new { status = "ready", model = served.Id, kind = served.Kind }));
        e.MapGet("/v1/models", (ServedModel served) => Results.Json(Models.List(served)));
        e.MapGet("/v1/models/{id}", (string id, ServedModel served) => Results.Json(Models.Get(id, served)));
        e.MapPost("/v1/chat/completions", (HttpContext http, ServedModel served, ServerOptions options, ImageUrls images, ServerMetrics metrics) =>
            ChatCompletions.HandleAsync(http, served, options, images, metrics));
        e.MapPost("/v1/embeddings", (HttpContext http, ServedModel served, ServerOptions options, ImageUrls images, ServerMetrics metrics) =>
            Embeddings.HandleAsync(http, served, options, images, metrics));
        e.MapPost("/v1/match", (HttpContext http, ServedModel served, ServerOptions options, ImageUrls images, ServerMetrics metrics) =>
            Match.HandleAsync(http, served, options, images, metrics));
        e.MapMetrics("/metrics", e.ServiceProvider.GetRequiredService<ServerMetrics>().Registry);
    }

    private static readonly HashSet<string> Endpoints =
        ["/health", "/ready", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/embeddings", "/v1/match", "/"];

    // Every failure becomes OpenAI's error JSON; a client that left gets nothing; every answer is counted.
    private static async Task ErrorsAndMetrics(HttpContext http, Func<Task> next, ServerOptions options, ServerMetrics metrics)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next().ConfigureAwait(false);
        }
        catch (Exception e) when (http.RequestAborted.IsCancellationRequested)
        {
            _ = e;   // the client left: nothing to answer (499 in the metrics, as nginx logs it)
            if (!http.Response.HasStarted) http.Response.StatusCode = 499;
        }
        catch (Exception e) when (OpenAiErrors.From(e, options.RetryAfterSeconds) is { } error)
        {
            if (error.Status == HttpStatusCode.InternalServerError)
                http.RequestServices.GetService<ILoggerFactory>()?.CreateLogger("blip2.serve").LogError(e, "request failed");
            if (!http.Response.HasStarted)
            {
                http.Response.Clear();
                await OpenAiErrors.WriteAsync(http, error).ConfigureAwait(false);
            }
        }
        finally
        {
            var path = http.Request.Path.Value ?? "";
            var endpoint = Endpoints.Contains(path) ? path : path.StartsWith("/v1/models/", StringComparison.Ordinal) ? "/v1/models/{id}" : "other";
            metrics.Answered(endpoint, http.Response.StatusCode, Stopwatch.GetElapsedTime(start));
        }
    }

    // --api-key guards the API (/v1); the page, /health, /ready and /metrics stay open, as in vLLM.
    private static Task Authorize(HttpContext http, Func<Task> next, ServerOptions options)
    {
        if (options.ApiKey is not { } key || !http.Request.Path.StartsWithSegments("/v1")) return next();
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            throw new ApiException(HttpStatusCode.Unauthorized, "Missing bearer authentication in header: send 'Authorization: Bearer <--api-key>'", code: "invalid_api_key");
        var given = Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(key)))
            throw new ApiException(HttpStatusCode.Unauthorized, "Incorrect API key provided", code: "invalid_api_key");
        return next();
    }
}
