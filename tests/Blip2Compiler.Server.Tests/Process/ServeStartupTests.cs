using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip2Compiler.Server.Tests.Http;

namespace Blip2Compiler.Server.Tests.Process;

/// <summary>
/// A real `blip2 serve` process over a copy of the tiny checkpoint whose generation_config.json has a key Hugging Face
/// does not know and an option this engine does not implement: it says so on stderr at start-up, as caption and ask
/// do. The same process takes OpenAI's <c>stop</c> as a string or an array of up to 4.
/// </summary>
public sealed class ServeStartupTests(ServeStartupTests.Served fixture) : IClassFixture<ServeStartupTests.Served>
{
    private ServeProcess Server => fixture.Server;

    /// <summary>The checkpoint copy and its server, one for the class.</summary>
    public sealed class Served : IAsyncLifetime
    {
        private readonly string _checkpoint = Path.Combine(Path.GetTempPath(), "blip2-serve-startup-" + Guid.NewGuid().ToString("N"));
        public ServeProcess Server { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Directory.CreateDirectory(_checkpoint);
            foreach (var file in Directory.GetFiles(TinyModels.TinyOpt)) File.Copy(file, Path.Combine(_checkpoint, Path.GetFileName(file)));
            var generation = JsonNode.Parse(File.ReadAllText(Path.Combine(_checkpoint, "generation_config.json")))!.AsObject();
            generation["blip2_test_unknown_key"] = true;
            generation["typical_p"] = 0.5;
            File.WriteAllText(Path.Combine(_checkpoint, "generation_config.json"), generation.ToJsonString());
            Server = await ServeProcess.StartAsync("--model", _checkpoint);
        }

        public async Task DisposeAsync()
        {
            await Server.DisposeAsync();
            try { Directory.Delete(_checkpoint, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task GenerationConfigNotesArePrintedAtStartUp()
    {
        // stderr is read on its own pipe: the notes, written before the address, may arrive just after it.
        var clock = Stopwatch.StartNew();
        while (!Server.Errors.Contains("typical_p", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(20);
        var errors = Server.Errors;
        Assert.Contains("blip2: note: generation_config.json: unknown key `blip2_test_unknown_key` (not a Hugging Face generation option); it is ignored", errors);
        Assert.Contains("blip2: note: generation_config.json: `typical_p` = 0.5 is a Hugging Face option this engine does not implement; it is ignored", errors);
        Assert.Single(errors.Split('\n'), line => line.Contains("blip2_test_unknown_key", StringComparison.Ordinal));   // once, not per request
    }

    [Fact]
    public async Task StopIsAStringOrUpToFourStrings()
    {
        using var http = Server.Http();
        async Task<(string Text, string Reason)> Answer(JsonNode? stop)
        {
            var body = Requests.Chat(maxTokens: 12);
            if (stop is not null) body["stop"] = stop;
            using var response = await http.PostAsync("/v1/chat/completions", Requests.Json(body));
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
            var choice = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0];
            return (choice.GetProperty("message").GetProperty("content").GetString()!, choice.GetProperty("finish_reason").GetString()!);
        }

        var (full, _) = await Answer(null);
        // A stop text from the middle of the unconstrained answer (greedy: the same up to it).
        var middle = full.Length / 2;
        while (middle < full.Length - 2 && char.IsWhiteSpace(full[middle])) middle++;
        var stop = full.Substring(middle, 2);
        var expected = full[..full.IndexOf(stop, StringComparison.Ordinal)].TrimEnd();

        Assert.Equal((expected, "stop"), await Answer(JsonValue.Create(stop)));
        Assert.Equal((expected, "stop"), await Answer(new JsonArray("never-1", "never-2", "never-3", stop)));
        Assert.Equal(full, (await Answer(new JsonArray())).Text);   // no stop sequences

        var body = Requests.Chat(maxTokens: 12);
        body["stop"] = new JsonArray("a", "b", "c", "d", stop);
        using var five = await http.PostAsync("/v1/chat/completions", Requests.Json(body));
        var (status, error) = await Requests.ErrorOf(five);
        Assert.Equal((400, "stop"), (status, error.GetProperty("param").GetString()));
        body["stop"] = 3;
        using var number = await http.PostAsync("/v1/chat/completions", Requests.Json(body));
        Assert.Equal(400, (await Requests.ErrorOf(number)).Status);
    }
}
