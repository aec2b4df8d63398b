using System.ClientModel;
using System.ClientModel.Primitives;
using Blip2.Cli.Serving;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;
using OpenAI;

namespace Blip2Compiler.Server.Tests.Http;

/// <summary>
/// The server's real services and pipeline on ASP.NET Core's test server (WebApplicationFactory), over a served
/// model the test also holds, so answers can be compared with lone library calls.
/// </summary>
public sealed class InProcessServer(ServedModel served, ServerOptions options) : WebApplicationFactory<ServerOptions>
{
    public ServedModel Served { get; } = served;
    public ServerOptions Options { get; } = options;

    // The CLI's entry point parses a command line; the server's host is built here from the same pieces instead.
    protected override IHostBuilder CreateHostBuilder() =>
        new HostBuilder().ConfigureWebHost(web => Blip2Server.Configure(web, Served, Options));

    /// <summary>The official OpenAI client, pointed at this server.</summary>
    public OpenAIClient OpenAI(string? apiKey = null) => new(new ApiKeyCredential(apiKey ?? Options.ApiKey ?? "unused"), new OpenAIClientOptions
    {
        Endpoint = new Uri(Server.BaseAddress, "/v1"),
        Transport = new HttpClientPipelineTransport(CreateClient()),
        NetworkTimeout = TimeSpan.FromSeconds(60),
    });

    /// <summary>A raw client with the key set (or none).</summary>
    public HttpClient Http(string? apiKey = null)
    {
        var client = CreateClient();
        if ((apiKey ?? Options.ApiKey) is { } key) client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await Served.DisposeAsync();
    }
}
