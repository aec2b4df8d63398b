using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Server.Tests.Http;

/// <summary>/v1/embeddings (OpenAI client, base64 and float) and /v1/match against the library's Blip2Retriever.</summary>
public class EmbeddingsTests(RetrievalServer fixture) : IClassFixture<RetrievalServer>
{
    private static ImageSource Photo => ImageSource.FromBytes(TinyModels.Photo, "astronaut.png");

    [Fact]
    public async Task TextEmbeddingsThroughTheOpenAiClientAreTheRetrieversVectors()
    {
        var client = fixture.Server.OpenAI().GetEmbeddingClient("blip2-tiny-itm");
        var texts = new[] { "an astronaut", "a horse on the moon" };
        var result = (await client.GenerateEmbeddingsAsync(texts)).Value;   // the client asks for base64
        var expected = fixture.Retriever.EmbedTexts(texts);
        Assert.Equal(2, result.Count);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(i, result[i].Index);
            Assert.Equal(expected[i], result[i].ToFloats().ToArray());
        }
        Assert.Equal("blip2-tiny-itm", result.Model);
    }

    [Fact]
    public async Task ImagesAndFloatsAsAnExtension()
    {
        using var http = fixture.Server.CreateClient();
        var body = new JsonObject
        {
            ["model"] = "blip2-tiny-itm",
            ["encoding_format"] = "float",
            ["input"] = new JsonArray("an astronaut", new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = Requests.PhotoUrl } }),
        };
        using var response = await http.PostAsync("/v1/embeddings", Requests.Json(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var data = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data");
        float[] Vector(int i) => data[i].GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
        Assert.Equal(fixture.Retriever.EmbedTexts(["an astronaut"])[0], Vector(0));
        Assert.Equal(fixture.Retriever.EmbedImages([Photo])[0], Vector(1));
    }

    [Fact]
    public async Task MatchGivesTheRetrieversScores()
    {
        using var http = fixture.Server.CreateClient();
        var texts = new[] { "an astronaut", "a cat" };
        var body = new JsonObject { ["image"] = new JsonObject { ["url"] = Requests.PhotoUrl }, ["texts"] = new JsonArray(texts.Select(t => (JsonNode)t!).ToArray()) };
        using var response = await http.PostAsync("/v1/match", Requests.Json(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var data = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data");
        var expected = fixture.Retriever.Match(Photo, texts);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(texts[i], data[i].GetProperty("text").GetString());
            Assert.Equal(expected[i].MatchProbability, data[i].GetProperty("itm_probability").GetDouble(), 1e-9);
            Assert.Equal(expected[i].Similarity, data[i].GetProperty("itc_similarity").GetDouble(), 1e-9);
        }
    }

    [Theory]
    [InlineData("/v1/embeddings", "{\"input\": []}", 400, "input")]
    [InlineData("/v1/embeddings", "{\"input\": \"\"}", 400, "input")]
    [InlineData("/v1/embeddings", "{\"input\": [1, 2, 3]}", 400, "input[0]")]
    [InlineData("/v1/embeddings", "{\"input\": \"a\", \"encoding_format\": \"int8\"}", 400, "encoding_format")]
    [InlineData("/v1/embeddings", "{\"input\": \"a\", \"dimensions\": 3}", 400, "dimensions")]
    [InlineData("/v1/embeddings", "{\"input\": \"a\", \"model\": \"other\"}", 404, "model")]
    [InlineData("/v1/match", "{\"texts\": [\"a\"]}", 400, "image")]
    [InlineData("/v1/match", "{\"image\": {\"url\": \"data:image/png;base64,AAAA\"}, \"texts\": [\"a\"]}", 400, "messages")]
    [InlineData("/v1/match", "{\"image\": {\"url\": \"https://example.com/a.png\"}, \"texts\": [\"a\"]}", 400, "image.url")]
    [InlineData("/v1/chat/completions", "{\"messages\": []}", 404, null)]
    public async Task BadRetrievalRequestsGetTypedErrors(string path, string body, int status, string? param)
    {
        using var http = fixture.Server.CreateClient();
        var (got, error) = await Requests.ErrorOf(await http.PostAsync(path, Requests.Raw(body)));
        Assert.Equal(status, got);
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
    }
}
