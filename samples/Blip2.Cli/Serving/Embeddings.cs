using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using Blip2Compiler.Processing;
using Microsoft.AspNetCore.Http;

namespace Blip2.Cli.Serving;

/// <summary>
/// <c>POST /v1/embeddings</c> for retrieval checkpoints: <c>input</c> as OpenAI's (a string or an array of strings),
/// and, as an extension, content parts (<c>{"type": "image_url", "image_url": {"url": "data:..."}}</c> or
/// <c>{"type": "text", "text": ...}</c>) for images. Vectors are L2-normalized (Blip2Retriever), as floats or, with
/// <c>encoding_format: "base64"</c> (the OpenAI clients' default), little-endian float32 in base64.
/// </summary>
public static class Embeddings
{
    private const int MaxInputs = 256;

    public static async Task HandleAsync(HttpContext http, ServedModel served, ServerOptions options, ImageUrls images, ServerMetrics metrics)
    {
        var retriever = Retrieval.RetrieverOf(served, "/v1/embeddings");
        using var body = await RequestBody.ReadJsonAsync(http, options.MaxBodyBytes).ConfigureAwait(false);
        var root = body.RootElement;
        Models.Check(JsonFields.String(root, "model"), served);
        var format = JsonFields.String(root, "encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw ApiException.BadRequest($"'encoding_format' must be 'float' or 'base64', got '{format}'", "encoding_format", "invalid_value");
        if (JsonFields.Int(root, "dimensions", 1, int.MaxValue) is { } dims && dims != retriever.Dimensions)
            throw ApiException.BadRequest($"this model's embeddings have {retriever.Dimensions} dimensions; 'dimensions' = {dims} cannot be served", "dimensions", "invalid_value");

        var inputs = await ReadInputsAsync(root, images, http.RequestAborted).ConfigureAwait(false);
        var texts = inputs.Where(i => i.Text is not null).Select(i => i.Text!).ToList();
        var pictures = inputs.Where(i => i.Image is not null).Select(i => i.Image!).ToList();
        var (textVectors, imageVectors) = await Retrieval.RunAsync(served, http.RequestAborted, () =>
            (retriever.EmbedTexts(texts), retriever.EmbedImages(pictures))).ConfigureAwait(false);

        int t = 0, p = 0;
        var tokens = texts.Sum(text => retriever.Tokenizer.Encode(text).Count) + pictures.Count * (int)retriever.Model.ModelInfo.NumQueryTokens;
        metrics.Embedded(inputs.Count);
        await http.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            data = inputs.Select((input, index) =>
            {
                var vector = input.Text is not null ? textVectors[t++] : imageVectors[p++];
                return new { @object = "embedding", index, embedding = format == "base64" ? (object)Base64(vector) : vector };
            }).ToList(),
            model = served.Id,
            usage = new { prompt_tokens = tokens, total_tokens = tokens },
        }, http.RequestAborted).ConfigureAwait(false);
    }

    private static string Base64(float[] vector) => Convert.ToBase64String(MemoryMarshal.AsBytes(vector.AsSpan()));

    private sealed record Input(string? Text, ImageSource? Image);

    private static async Task<List<Input>> ReadInputsAsync(JsonElement root, ImageUrls images, CancellationToken cancellationToken)
    {
        if (JsonFields.Get(root, "input") is not { } input) throw ApiException.BadRequest("'input' is missing", "input", "invalid_value");
        var items = input.ValueKind switch
        {
            JsonValueKind.String => [input],
            JsonValueKind.Array => input.EnumerateArray().ToList(),
            _ => throw JsonFields.Wrong("input", "a string or an array", input),
        };
        if (items.Count is 0 or > MaxInputs) throw ApiException.BadRequest($"'input' must hold 1 to {MaxInputs} items", "input", "invalid_value");
        var result = new List<Input>();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var path = input.ValueKind == JsonValueKind.Array ? $"input[{i}]" : "input";
            switch (item.ValueKind)
            {
                case JsonValueKind.String when item.GetString()!.Length > 0:
                    result.Add(new Input(item.GetString(), null));
                    break;
                case JsonValueKind.String:
                    throw ApiException.BadRequest($"'{path}' is empty", path, "invalid_value");
                case JsonValueKind.Number:
                    throw ApiException.BadRequest("token-id input is not supported: send text", path, "invalid_value");
                case JsonValueKind.Object:
                    var type = JsonFields.String(item, "type", path + ".type");
                    if (type == "text" && JsonFields.String(item, "text", path + ".text") is { Length: > 0 } text) result.Add(new Input(text, null));
                    else if (type == "image_url")
                    {
                        var url = JsonFields.Get(item, "image_url") switch
                        {
                            { ValueKind: JsonValueKind.String } s => s.GetString(),
                            { ValueKind: JsonValueKind.Object } o => JsonFields.String(o, "url", path + ".image_url.url"),
                            _ => null,
                        } ?? throw ApiException.BadRequest($"'{path}.image_url.url' is missing", path + ".image_url.url", "invalid_value");
                        var data = await images.ReadAsync(url, path + ".image_url.url", cancellationToken).ConfigureAwait(false);
                        result.Add(new Input(null, ImageSource.FromBytes(data.Data, data.MediaType)));
                    }
                    else throw ApiException.BadRequest($"'{path}' must be a text or image_url part", path, "invalid_value");
                    break;
                default:
                    throw JsonFields.Wrong(path, "a string or a content part", item);
            }
        }
        return result;
    }
}
