using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Blip2.Cli.Serving;

/// <summary>Reads a JSON request body, refusing one over --max-body-mb (413) before it is all in memory.</summary>
public static class RequestBody
{
    public static async Task<JsonDocument> ReadJsonAsync(HttpContext http, long maxBytes)
    {
        if (http.Request.ContentLength is { } length && length > maxBytes) throw TooLarge(maxBytes);
        // Kestrel enforces the limit while reading too; the count below covers chunked bodies on any server.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = maxBytes;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes) throw TooLarge(maxBytes);
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) throw ApiException.BadRequest("the request has no body: send a JSON object", code: "invalid_json");
        var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), new JsonDocumentOptions { MaxDepth = 32 });
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw ApiException.BadRequest("the request body must be a JSON object", code: "invalid_json");
        }
        return document;
    }

    private static ApiException TooLarge(long maxBytes) => new(HttpStatusCode.RequestEntityTooLarge,
        $"the request body is larger than the server's limit of {maxBytes / (1024 * 1024.0):0.#} MiB (--max-body-mb)", code: "request_too_large");
}
