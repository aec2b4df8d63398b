using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Blip2Compiler.Processing;
using Blip2Compiler.Server.Tests.Http;
using OpenAI.Chat;

namespace Blip2Compiler.Server.Tests.Process;

/// <summary>One `blip2 serve --api-key` process for the class, and the tiny model in-process as the reference.</summary>
public sealed class ServedProcess : IAsyncLifetime
{
    public const string Key = "process-key";
    public ServeProcess Server { get; private set; } = null!;
    public TinyModels Models { get; } = new();

    public async Task InitializeAsync() => Server = await ServeProcess.StartAsync("--api-key", Key, "--max-batch", "8");

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Models.Dispose();
    }
}

/// <summary>
/// A real `blip2 serve` process on a free loopback port, through the official OpenAI client and raw HTTP: chat plain
/// and streamed, auth, 64 concurrent requests each equal to its lone answer, and SIGTERM draining to exit code 0.
/// </summary>
public class ServeProcessTests(ServedProcess fixture) : IClassFixture<ServedProcess>
{
    private static ImageSource Photo => ImageSource.FromBytes(TinyModels.Photo, "astronaut.png");
    private static ChatMessageContentPart ImagePart => ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(TinyModels.Photo), "image/png");

    private string Expected(string? prompt, int maxNew) => fixture.Models.Captioner.Caption([Photo], [prompt], new() { MaxNewTokens = maxNew })[0];

    [Fact]
    public async Task TheOpenAiClientGetsPlainAndStreamedAnswers()
    {
        var chat = fixture.Server.OpenAI(ServedProcess.Key).GetChatClient("blip2-tiny-opt");
        ChatCompletion plain = await chat.CompleteChatAsync([new UserChatMessage(ImagePart)], new ChatCompletionOptions { MaxOutputTokenCount = 7 });
        Assert.Equal(Expected(null, 7), plain.Content.Single().Text);

        var pieces = new List<string>();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(ImagePart, ChatMessageContentPart.CreateTextPart("what is it?"))],
            new ChatCompletionOptions { MaxOutputTokenCount = 7 }))
            pieces.AddRange(update.ContentUpdate.Select(p => p.Text));
        Assert.Equal(Expected("Question: what is it? Answer:", 7), string.Concat(pieces));

        var models = (await fixture.Server.OpenAI(ServedProcess.Key).GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.Equal("blip2-tiny-opt", Assert.Single(models).Id);
    }

    [Fact]
    public async Task AWrongKeyIs401AndTheProcessLivesOn()
    {
        using var http = fixture.Server.Http("wrong");
        using var response = await http.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat()));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var broken = await fixture.Server.Http(ServedProcess.Key).PostAsync("/v1/chat/completions", Requests.Raw("{\"messages\": [{]"));
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
        Assert.False(fixture.Server.HasExited, fixture.Server.Errors);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Server.Http().GetAsync("/ready")).StatusCode);
    }

    [Fact]
    public async Task SixtyFourConcurrentRequestsAreAllAnsweredEachAsAlone()
    {
        var questions = new string?[] { null, "what is it?", "where is it?", "who is there?" };
        var cases = Enumerable.Range(0, 64).Select(i => (Question: questions[i % 4], MaxTokens: 3 + i % 6, Stream: i % 3 == 0)).ToList();
        var alone = cases.Select(c => (c.Question, c.MaxTokens)).Distinct()
            .ToDictionary(c => c, c => Expected(c.Question is null ? null : $"Question: {c.Question} Answer:", c.MaxTokens));
        var expected = cases.Select(c => alone[(c.Question, c.MaxTokens)]).ToList();

        using var http = fixture.Server.Http(ServedProcess.Key);
        var answers = await Task.WhenAll(cases.Select(async c =>
        {
            using var response = await http.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat(c.MaxTokens, c.Stream, c.Question)));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            if (!c.Stream)
                return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
            var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("data: [DONE]", events[^1]);
            return string.Concat(events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices"))
                .Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("content", out _))
                .Select(c => c[0].GetProperty("delta").GetProperty("content").GetString()));
        }));
        for (var i = 0; i < cases.Count; i++) Assert.True(expected[i] == answers[i], $"request {i} ({cases[i]}): '{answers[i]}', alone '{expected[i]}'");

        var metrics = await fixture.Server.Http().GetStringAsync("/metrics");
        Assert.Contains("blip2_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}", metrics);
    }
}

/// <summary>
/// One `blip2 serve` process whose engine decodes one row at a time and pauses 20 ms after each step
/// (EngineOptions.StepPause, BLIP2_ENGINE_STEP_PAUSE_MS), so an answer lasts long enough for its client to leave
/// mid-way on any machine: the tiny model's 90 tokens otherwise end in about 0.2 s on an idle one.
/// </summary>
public sealed class PausedProcess : IAsyncLifetime
{
    public ServeProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await ServeProcess.StartAsync([("BLIP2_ENGINE_STEP_PAUSE_MS", "20")], "--api-key", ServedProcess.Key, "--max-batch", "1");

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// Clients that leave a real `blip2 serve` process on real sockets (<see cref="LeavingClient"/>): mid-stream, while
/// the server writes to them, and while their request still waits in the queue and nothing is written. Each is
/// counted as cancelled, not completed, and its row or queue place is freed at once; the server answers on.
/// </summary>
public class ClientsThatLeaveTests(PausedProcess fixture) : IClassFixture<PausedProcess>
{
    private const string Cancelled = "blip2_engine_requests_total{outcome=\"cancelled\"}";
    private const string Completed = "blip2_engine_requests_total{outcome=\"completed\"}";
    private const int MaxTokens = 90;   // 128 positions − the 32 queries − BOS − room to spare

    // A streamed answer of every position the tiny model has: EOS suppressed by min_tokens.
    private static System.Text.Json.Nodes.JsonObject Long => Requests.Chat(MaxTokens, stream: true, extra: new() { ["min_tokens"] = MaxTokens });

    private static double Metric(string text, string name) =>
        text.Split('\n').Where(l => l.StartsWith(name + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture)).Single();

    private async Task<string> Metrics()
    {
        using var scrape = fixture.Server.Http();
        return await scrape.GetStringAsync("/metrics");
    }

    private async Task<string> WaitFor(Func<string, bool> condition, string what)
    {
        var timeout = Stopwatch.StartNew();
        while (true)
        {
            var now = await Metrics();
            if (condition(now)) return now;
            Assert.True(timeout.Elapsed < TimeSpan.FromSeconds(60), $"no {what} in 60 s:\n{now}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task AClientThatLeavesMidStreamIsCancelledAndItsRowFreed()
    {
        var before = await Metrics();
        using (var client = await LeavingClient.PostAsync(fixture.Server.Address, "/v1/chat/completions", Long, ServedProcess.Key))
        {
            // The first chunk is the role; text chunks carry "delta":{"content":...}.
            Assert.True(await client.ReadUntilAsync("\"delta\":{\"content\":", TimeSpan.FromSeconds(60)), client.Received);
            Assert.StartsWith("HTTP/1.1 200", client.Received);
        }   // the connection closes here, mid-answer

        var after = await WaitFor(m => Metric(m, Cancelled) != Metric(before, Cancelled) || Metric(m, Completed) != Metric(before, Completed), "outcome");
        Assert.True((Metric(before, Cancelled) + 1, Metric(before, Completed)) == (Metric(after, Cancelled), Metric(after, Completed)),
            $"cancelled {Metric(before, Cancelled)} -> {Metric(after, Cancelled)}, completed {Metric(before, Completed)} -> {Metric(after, Completed)}");
        after = await WaitFor(m => Metric(m, "blip2_running_rows") == 0, "free row");
        Assert.True(Metric(after, "blip2_generated_tokens_total") - Metric(before, "blip2_generated_tokens_total") < MaxTokens,
            "the row left before its last token");

        using var next = fixture.Server.Http(ServedProcess.Key);
        using var answer = await next.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat(4)));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.False(fixture.Server.HasExited, fixture.Server.Errors);
    }

    [Fact]
    public async Task AClientThatLeavesWhileItsRequestWaitsIsCancelledAtOnce()
    {
        var before = await Metrics();
        // The one row decodes a long answer for a client that stays (and reads every byte).
        using var stays = fixture.Server.Http(ServedProcess.Key);
        var running = stays.PostAsync("/v1/chat/completions", Requests.Json(Long));
        await WaitFor(m => Metric(m, "blip2_running_rows") == 1, "running row");
        // The second request waits for that row: nothing of its answer is written, not even the status line.
        using (var client = await LeavingClient.PostAsync(fixture.Server.Address, "/v1/chat/completions", Long, ServedProcess.Key))
        {
            await WaitFor(m => Metric(m, "blip2_queue_depth") == 1, "waiting request");
            Assert.Equal("", client.Received);
        }   // it leaves while it waits

        var after = await WaitFor(m => Metric(m, Cancelled) != Metric(before, Cancelled) || Metric(m, Completed) != Metric(before, Completed), "outcome");
        Assert.True((Metric(before, Cancelled) + 1, Metric(before, Completed)) == (Metric(after, Cancelled), Metric(after, Completed)),
            $"cancelled {Metric(before, Cancelled)} -> {Metric(after, Cancelled)}, completed {Metric(before, Completed)} -> {Metric(after, Completed)} (the running answer ended first)");
        Assert.Equal(0, Metric(after, "blip2_queue_depth"));

        using var answer = await running;
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.EndsWith("data: [DONE]\n\n", await answer.Content.ReadAsStringAsync());
        after = await Metrics();
        Assert.Equal((Metric(before, Cancelled) + 1, Metric(before, Completed) + 1), (Metric(after, Cancelled), Metric(after, Completed)));
        Assert.False(fixture.Server.HasExited, fixture.Server.Errors);
    }

    [Fact]
    public async Task AClientThatLeavesABeamSearchIsCancelledMidSearchAndTheLaneFreed()
    {
        const string Steps = "blip2_decoding_steps_total";
        var before = await Metrics();
        // Four beams over every position, EOS suppressed: 90 steps of 20 ms had the search run to its end. Not
        // streamed (beam search knows its text only at the end), so nothing is written to the client before then.
        var search = Requests.Chat(MaxTokens, extra: new() { ["min_tokens"] = MaxTokens, ["num_beams"] = 4 });
        double stepsAtLeaving;
        using (var client = await LeavingClient.PostAsync(fixture.Server.Address, "/v1/chat/completions", search, ServedProcess.Key))
        {
            var running = await WaitFor(m => Metric(m, "blip2_running_rows") == 4 && Metric(m, Steps) >= Metric(before, Steps) + 3, "beam search under way");
            stepsAtLeaving = Metric(running, Steps);
            Assert.Equal("", client.Received);
        }   // it leaves mid-search

        var after = await WaitFor(m => Metric(m, Cancelled) != Metric(before, Cancelled) || Metric(m, Completed) != Metric(before, Completed), "outcome");
        Assert.True((Metric(before, Cancelled) + 1, Metric(before, Completed)) == (Metric(after, Cancelled), Metric(after, Completed)),
            $"cancelled {Metric(before, Cancelled)} -> {Metric(after, Cancelled)}, completed {Metric(before, Completed)} -> {Metric(after, Completed)}");
        after = await WaitFor(m => Metric(m, "blip2_running_rows") == 0, "free lane");
        // The socket's close heard by Kestrel, the token by the search before its next step: a few steps, not the rest.
        var left = MaxTokens - (stepsAtLeaving - Metric(before, Steps));
        Assert.True(Metric(after, Steps) - stepsAtLeaving < left / 2, $"{Metric(after, Steps) - stepsAtLeaving} steps after leaving, of {left} left");

        using var next = fixture.Server.Http(ServedProcess.Key);
        using var answer = await next.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat(4, extra: new() { ["num_beams"] = 2 })));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.False(fixture.Server.HasExited, fixture.Server.Errors);
    }
}

/// <summary>SIGTERM: in-flight requests finish, new ones are refused, the process exits 0.</summary>
public class ServeShutdownTests
{
    [Fact]
    public async Task SigtermFinishesInFlightRequestsAndExitsZero()
    {
        await using var server = await ServeProcess.StartAsync("--engine", "continuous");
        using var http = server.Http();
        // Answers of 60 tokens, streamed: the signal comes once text is flowing, while they are still decoding.
        var inFlight = Enumerable.Range(0, 2).Select(_ => http.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Requests.Json(Requests.Chat(maxTokens: 60, stream: true)) },
            HttpCompletionOption.ResponseHeadersRead)).ToList();
        await Task.WhenAll(inFlight);
        server.Terminate();
        var responses = await Task.WhenAll(inFlight);
        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            Assert.EndsWith("data: [DONE]\n\n", text);
            Assert.DoesNotContain("\"error\"", text);
            Assert.Contains("\"finish_reason\":\"length\"", text);   // all 60 tokens, not cut short
        }
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetAsync("/health"));
    }
}
