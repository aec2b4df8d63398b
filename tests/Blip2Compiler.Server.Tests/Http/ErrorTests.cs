using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip2.Cli.Serving;
using Blip2Compiler.Serving;

namespace Blip2Compiler.Server.Tests.Http;

/// <summary>
/// The error matrix: every bad request gets OpenAI's error JSON with the right status (never a 500) and the server
/// goes on answering.
/// </summary>
public abstract class ErrorTests<TServer>(TServer fixture) : IClassFixture<TServer> where TServer : CaptioningServer
{
    private async Task<(int Status, JsonElement Error)> Post(string path, HttpContent body, string? key = CaptioningServer.Key)
    {
        using var http = fixture.Server.Http(key);
        if (key is null) http.DefaultRequestHeaders.Authorization = null;
        using var response = await http.PostAsync(path, body);
        return await Requests.ErrorOf(response);
    }

    private async Task StillAnswers()
    {
        using var http = fixture.Server.Http();
        using var response = await http.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat(maxTokens: 2)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static TheoryData<string, string, int, string?, string?> BadChats => new()
    {
        // name, body, status, param, code
        { "malformed JSON", "{\"messages\": [", 400, null, "invalid_json" },
        { "not an object", "[1, 2]", 400, null, "invalid_json" },
        { "no messages", "{\"model\": \"blip2-tiny-opt\"}", 400, "messages", "invalid_value" },
        { "unknown role", Body(b => b["messages"]![0]!["role"] = "wizard"), 400, "messages[0].role", "invalid_value" },
        { "no image", "{\"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}", 400, "messages", "invalid_value" },
        { "undecodable image", Body(b => b["messages"]![0]!["content"]![0]!["image_url"]!["url"] = "data:image/png;base64,AAAAAAAA"), 400, "messages", "invalid_image" },
        { "bad base64", Body(b => b["messages"]![0]!["content"]![0]!["image_url"]!["url"] = "data:image/png;base64,@@@"), 400, "messages[0].content[0].image_url.url", "invalid_image_url" },
        { "not an image type", Body(b => b["messages"]![0]!["content"]![0]!["image_url"]!["url"] = "data:text/plain;base64,aGVsbG8="), 400, "messages[0].content[0].image_url.url", "invalid_image_url" },
        { "remote image refused", Body(b => b["messages"]![0]!["content"]![0]!["image_url"]!["url"] = "http://169.254.169.254/latest/meta-data"), 400, "messages[0].content[0].image_url.url", "remote_images_disabled" },
        { "unknown part type", Body(b => b["messages"]![0]!["content"]![0]!["type"] = "input_audio"), 400, "messages[0].content[0].type", "invalid_value" },
        { "top_p out of range", Body(b => b["top_p"] = 1.5), 400, "top_p", "invalid_value" },
        { "temperature out of range", Body(b => b["temperature"] = 5), 400, "temperature", "invalid_value" },
        { "max_tokens zero", Body(b => b["max_tokens"] = 0), 400, "max_tokens", "invalid_value" },
        // What generate cannot honour is refused, not ignored (OpenAI's neutral values pass: see below).
        { "frequency_penalty", Body(b => b["frequency_penalty"] = 0.5), 400, "frequency_penalty", "unsupported_value" },
        { "presence_penalty", Body(b => b["presence_penalty"] = -1), 400, "presence_penalty", "unsupported_value" },
        { "frequency_penalty out of range", Body(b => b["frequency_penalty"] = 3), 400, "frequency_penalty", "invalid_value" },
        { "JSON response format", Body(b => b["response_format"] = new JsonObject { ["type"] = "json_object" }), 400, "response_format", "unsupported_value" },
        { "required tool call", Body(b => b["tool_choice"] = "required"), 400, "tool_choice", "unsupported_value" },
        { "max_tokens not a number", Body(b => b["max_tokens"] = "many"), 400, "max_tokens", "invalid_type" },
        { "n for greedy", Body(b => { b["n"] = 2; b["temperature"] = 0; }), 400, "n", "invalid_value" },
        { "too many stops", Body(b => b["stop"] = new JsonArray("a", "b", "c", "d", "e")), 400, "stop", "invalid_value" },
        { "more tokens than positions", Body(b => b["max_tokens"] = 500), 400, "messages", "context_length_exceeded" },
        { "question longer than the model", Body(b => b["messages"]![0]!["content"]!.AsArray().Add(new JsonObject { ["type"] = "text", ["text"] = string.Join(" ", Enumerable.Repeat("word", 300)) })), 400, "messages", "context_length_exceeded" },
        { "unknown model", Body(b => b["model"] = "gpt-4o"), 404, "model", "model_not_found" },
    };

    [Fact]
    public async Task OpenAIsNeutralValuesOfWhatIsRefusedPass()
    {
        // What OpenAI's clients send by default: zero penalties, a text response format, tools left to the model.
        var body = Body(b =>
        {
            b["frequency_penalty"] = 0;
            b["presence_penalty"] = 0.0;
            b["response_format"] = new JsonObject { ["type"] = "text" };
            b["tool_choice"] = "auto";
        });
        using var http = fixture.Server.Http();
        using var response = await http.PostAsync("/v1/chat/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    private static string Body(Action<JsonObject> change)
    {
        var body = Requests.Chat(maxTokens: 3);
        change(body);
        return body.ToJsonString();
    }

    [Theory]
    [MemberData(nameof(BadChats))]
    public async Task BadChatRequestsGetTypedErrors(string name, string body, int status, string? param, string? code)
    {
        foreach (var stream in new[] { false, true })
        {
            var sent = stream && TryParse(body) is JsonObject o ? WithStream(o) : body;
            var (got, error) = await Post("/v1/chat/completions", Requests.Raw(sent));
            Assert.True(status == got, $"{name} (stream {stream}): status {got}, {error}");
            Assert.Equal(code, error.GetProperty("code").GetString());
            if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        }
        await StillAnswers();
    }

    private static JsonNode? TryParse(string body)
    {
        try { return JsonNode.Parse(body); }
        catch (JsonException) { return null; }
    }

    private static string WithStream(JsonObject body)
    {
        body["stream"] = true;
        return body.ToJsonString();
    }

    [Fact]
    public async Task AKeyIsRequiredWhenSet()
    {
        var (missing, error) = await Post("/v1/chat/completions", Requests.Json(Requests.Chat()), key: null);
        Assert.Equal(401, missing);
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        var (wrong, _) = await Post("/v1/chat/completions", Requests.Json(Requests.Chat()), key: "nope");
        Assert.Equal(401, wrong);
        using var open = fixture.Server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await open.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await open.GetAsync("/v1/models")).StatusCode);
        await StillAnswers();
    }

    [Fact]
    public async Task ABodyOverTheLimitIs413()
    {
        var big = Requests.Chat(imageUrl: "data:image/png;base64," + new string('A', 5 * 1024 * 1024));
        var (status, error) = await Post("/v1/chat/completions", Requests.Json(big));
        Assert.Equal(413, status);
        Assert.Equal("request_too_large", error.GetProperty("code").GetString());
        await StillAnswers();
    }

    [Fact]
    public async Task UnknownUrlsAre404AndRetrievalEndpointsSaySo()
    {
        using var http = fixture.Server.Http();
        var (status, error) = await Requests.ErrorOf(await http.GetAsync("/v1/nothing"));
        Assert.Equal(404, status);
        Assert.Equal("unknown_url", error.GetProperty("code").GetString());
        var (embed, embedError) = await Post("/v1/embeddings", Requests.Raw("{\"input\": \"a cat\"}"));
        Assert.Equal(404, embed);
        Assert.Contains("retrieval", embedError.GetProperty("message").GetString());
    }

    [Fact]
    public async Task HealthReadyAndMetricsAnswer()
    {
        using var http = fixture.Server.CreateClient();
        Assert.Equal("ok", (await http.GetFromJsonAsync<JsonElement>("/health")).GetProperty("status").GetString());
        Assert.Equal("ready", (await http.GetFromJsonAsync<JsonElement>("/ready")).GetProperty("status").GetString());
        await StillAnswers();
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("blip2_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}", metrics);
        Assert.Contains("blip2_queue_depth", metrics);
        Assert.Contains("blip2_running_rows", metrics);
        Assert.Contains("blip2_generated_tokens_total", metrics);
        Assert.Contains("blip2_request_duration_seconds_bucket", metrics);
    }
}

/// <summary>A full queue is a 429 with Retry-After, a draining engine a 503 with Retry-After; /ready follows.</summary>
public class BackPressureTests(CaptioningServer fixture) : IClassFixture<CaptioningServer>
{
    [Theory]
    [InlineData("continuous")]
    [InlineData("sequential")]
    public async Task AFullQueueIs429AndADrainingEngine503(string kind)
    {
        // A queue of no places refuses every request; a drained engine takes none.
        var options = new EngineOptions { MaxQueue = 0 };
        IGenerationEngine engine = kind == "continuous" ? new ContinuousBatchingEngine(fixture.Captioner, options) : new SequentialEngine(fixture.Captioner, options);
        await using var server = new InProcessServer(ServedModel.ForGeneration("blip2-tiny-opt", engine), new ServerOptions { RetryAfterSeconds = 2 });
        using var http = server.CreateClient();
        using var full = await http.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat()));
        var (status, error) = await Requests.ErrorOf(full);
        Assert.Equal(429, status);
        Assert.Equal("queue_full", error.GetProperty("code").GetString());
        Assert.Equal("2", full.Headers.GetValues("Retry-After").Single());

        await server.Served.Engine!.DrainAsync();
        using var stopped = await http.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat(stream: true)));
        Assert.Equal(503, (await Requests.ErrorOf(stopped)).Status);
        Assert.Equal("2", stopped.Headers.GetValues("Retry-After").Single());
    }
}

/// <summary>On the continuous-batching engine (the default of blip2 serve).</summary>
public class ErrorTestsOnContinuousEngine(CaptioningServer fixture) : ErrorTests<CaptioningServer>(fixture);

/// <summary>On the sequential engine (blip2 serve --engine sequential).</summary>
public class ErrorTestsOnSequentialEngine(SequentialCaptioningServer fixture) : ErrorTests<SequentialCaptioningServer>(fixture);
