using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Server.Tests.Http;

/// <summary>
/// /v1/chat/completions on the bundled tiny Flan-T5: concurrent callers' requests share the engine's decoding steps
/// (T5 rows batched), and each answer is a lone Blip2Captioner call's (the reference).
/// </summary>
public class T5ChatCompletionsTests(T5CaptioningServer fixture) : IClassFixture<T5CaptioningServer>
{
    private static JsonObject Body(string? question, int maxTokens, bool stream, byte[] image)
    {
        var body = Requests.Chat(maxTokens, stream, question, "data:image/png;base64," + Convert.ToBase64String(image));
        body["model"] = "blip2-tiny-t5";
        body["min_tokens"] = maxTokens;   // past EOS: rows that run to their length keep the batch full
        return body;
    }

    [Fact]
    public async Task ConcurrentCallersGetTheLoneAnswersFromBatchedSteps()
    {
        string?[] questions = [null, "what is it?", "what colour is the sky in this picture?", null, "why?", "where is the man standing?", "is it a horse?", null];
        var steps = fixture.Engine.Statistics.DecodingSteps;
        var tokens = fixture.Engine.Statistics.GeneratedTokens;
        using var http = fixture.Server.Http();
        var answers = await Task.WhenAll(questions.Select(async (question, i) =>
        {
            var stream = i % 3 == 1;
            using var response = await http.PostAsync("/v1/chat/completions", Requests.Json(Body(question, 6 + 3 * i, stream, i % 2 == 0 ? TinyModels.Photo : TinyModels.PhotoFlipped)));
            response.EnsureSuccessStatusCode();
            var text = await response.Content.ReadAsStringAsync();
            return stream
                ? string.Concat(text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).SkipLast(1)
                    .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices"))
                    .Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("content", out _))
                    .Select(c => c[0].GetProperty("delta").GetProperty("content").GetString()))
                : JsonDocument.Parse(text).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        }));
        for (var i = 0; i < questions.Length; i++)
        {
            var image = ImageSource.FromBytes(i % 2 == 0 ? TinyModels.Photo : TinyModels.PhotoFlipped, "photo.png");
            var prompt = questions[i] is { } q ? $"Question: {q} Answer:" : null;
            var maxNew = 6 + 3 * i;
            Assert.Equal(fixture.Captioner.Caption([image], [prompt], new GenerationOptions { MaxNewTokens = maxNew, MinNewTokens = maxNew })[0], answers[i]);
        }
        var stats = fixture.Engine.Statistics;
        var generated = stats.GeneratedTokens - tokens;
        Assert.Equal(questions.Select((_, i) => 6L + 3 * i).Sum(), generated);
        // Batched, not one caller after another: fewer steps than tokens.
        Assert.True(stats.DecodingSteps - steps < generated - questions.Length, $"{stats.DecodingSteps - steps} steps for {generated} tokens");
    }
}
