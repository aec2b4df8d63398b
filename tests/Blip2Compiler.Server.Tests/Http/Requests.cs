using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Blip2Compiler.Server.Tests.Http;

/// <summary>Raw request bodies, for what the OpenAI client does not send (n, broken input).</summary>
internal static class Requests
{
    public static string PhotoUrl { get; } = "data:image/png;base64," + Convert.ToBase64String(TinyModels.Photo);

    public static JsonObject Chat(int maxTokens = 4, bool stream = false, string? question = null, string? imageUrl = null, Dictionary<string, JsonNode?>? extra = null)
    {
        var content = new JsonArray { new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = imageUrl ?? PhotoUrl } } };
        if (question is not null) content.Add(new JsonObject { ["type"] = "text", ["text"] = question });
        var body = new JsonObject
        {
            ["model"] = "blip2-tiny-opt",
            ["max_tokens"] = maxTokens,
            ["messages"] = new JsonArray { new JsonObject { ["role"] = "user", ["content"] = content } },
        };
        if (stream) body["stream"] = true;
        foreach (var (k, v) in extra ?? []) body[k] = v;
        return body;
    }

    public static HttpContent Json(JsonNode body) => new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");

    public static HttpContent Raw(string body) => new StringContent(body, System.Text.Encoding.UTF8, "application/json");

    /// <summary>The OpenAI error object of a response, with its status.</summary>
    public static async Task<(int Status, JsonElement Error)> ErrorOf(HttpResponseMessage response)
    {
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        var error = json.GetProperty("error");
        foreach (var field in new[] { "message", "type", "param", "code" }) Assert.True(error.TryGetProperty(field, out _), $"error has no '{field}'");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        return ((int)response.StatusCode, error);
    }
}
