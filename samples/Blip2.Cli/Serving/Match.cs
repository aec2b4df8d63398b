using System.Text.Json;
using Blip2Compiler.Processing;
using Microsoft.AspNetCore.Http;

namespace Blip2.Cli.Serving;

/// <summary>
/// <c>POST /v1/match</c> (an extension) for retrieval checkpoints: <c>{"image": {"url": "data:..."}, "texts": [...]}</c>
/// → per text the image–text matching probability and the contrastive similarity, as <c>blip2 match</c> prints them.
/// </summary>
public static class Match
{
    private const int MaxTexts = 256;

    public static async Task HandleAsync(HttpContext http, ServedModel served, ServerOptions options, ImageUrls images, ServerMetrics metrics)
    {
        var retriever = Retrieval.RetrieverOf(served, "/v1/match");
        using var body = await RequestBody.ReadJsonAsync(http, options.MaxBodyBytes).ConfigureAwait(false);
        var root = body.RootElement;
        Models.Check(JsonFields.String(root, "model"), served);
        var url = JsonFields.Get(root, "image") switch
        {
            { ValueKind: JsonValueKind.String } s => s.GetString(),
            { ValueKind: JsonValueKind.Object } o => JsonFields.String(o, "url", "image.url"),
            null => throw ApiException.BadRequest("'image' is missing: give {\"url\": \"data:image/png;base64,...\"}", "image", "invalid_value"),
            var other => throw JsonFields.Wrong("image", "an object with a url", other.Value),
        } ?? throw ApiException.BadRequest("'image.url' is missing", "image.url", "invalid_value");
        if (JsonFields.Get(root, "texts") is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() is 0 or > MaxTexts)
            throw ApiException.BadRequest($"'texts' must be an array of 1 to {MaxTexts} strings", "texts", "invalid_value");
        var texts = array.EnumerateArray().Select((t, i) => t.ValueKind == JsonValueKind.String && t.GetString()!.Length > 0
            ? t.GetString()! : throw ApiException.BadRequest($"'texts[{i}]' must be a non-empty string", $"texts[{i}]", "invalid_value")).ToList();

        var image = await images.ReadAsync(url, "image.url", http.RequestAborted).ConfigureAwait(false);
        var scores = await Retrieval.RunAsync(served, http.RequestAborted,
            () => retriever.Match(ImageSource.FromBytes(image.Data, image.MediaType), texts)).ConfigureAwait(false);
        metrics.Embedded(texts.Count + 1);
        await http.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            model = served.Id,
            data = scores.Select((s, index) => new { index, text = s.Text, itm_probability = s.MatchProbability, itc_similarity = s.Similarity }),
        }, http.RequestAborted).ConfigureAwait(false);
    }
}
