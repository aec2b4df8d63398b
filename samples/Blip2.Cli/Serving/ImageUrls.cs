using System.Net;
using Microsoft.Extensions.AI;

namespace Blip2.Cli.Serving;

/// <summary>
/// An <c>image_url</c> as bytes: <c>data:</c> URLs (base64) always; http(s) only with --allow-remote-images, since a
/// server that fetches any URL it is handed lets its callers reach whatever the server can (SSRF).
/// </summary>
public sealed class ImageUrls(ServerOptions options, IHttpClientFactory? http = null)
{
    public async Task<DataContent> ReadAsync(string url, string param, CancellationToken cancellationToken)
    {
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase)) return FromDataUrl(url, param);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw ApiException.BadRequest($"'{param}' must be a data: URL (data:image/png;base64,...) or an http(s) URL", param, "invalid_image_url");
        if (!options.AllowRemoteImages)
            throw ApiException.BadRequest("this server does not fetch remote images (start it with --allow-remote-images); send the image as a data: URL", param, "remote_images_disabled");
        if (http is null) throw ApiException.BadRequest("remote images are not available on this server", param, "remote_images_disabled");
        return await FetchAsync(http.CreateClient("images"), uri, param, cancellationToken).ConfigureAwait(false);
    }

    private DataContent FromDataUrl(string url, string param)
    {
        var comma = url.IndexOf(',');
        if (comma < 0) throw ApiException.BadRequest($"'{param}' is not a valid data: URL (no comma)", param, "invalid_image_url");
        var header = url[5..comma];
        var parts = header.Split(';');
        var mediaType = parts[0].Length == 0 ? "application/octet-stream" : parts[0].Trim().ToLowerInvariant();
        if (!parts.Skip(1).Any(p => p.Equals("base64", StringComparison.OrdinalIgnoreCase)))
            throw ApiException.BadRequest($"'{param}' must be a base64 data: URL (data:image/png;base64,...)", param, "invalid_image_url");
        if (!mediaType.StartsWith("image/", StringComparison.Ordinal))
            throw ApiException.BadRequest($"'{param}' has media type '{mediaType}': send an image (image/png, image/jpeg, image/webp, ...)", param, "invalid_image_url");
        var payload = url.AsSpan(comma + 1);
        var bytes = new byte[payload.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64Chars(payload, bytes, out var written))
            throw ApiException.BadRequest($"'{param}' is not valid base64", param, "invalid_image_url");
        if (written == 0) throw ApiException.BadRequest($"'{param}' holds no image data", param, "invalid_image_url");
        return new DataContent(bytes.AsMemory(0, written), mediaType);
    }

    private async Task<DataContent> FetchAsync(HttpClient client, Uri uri, string param, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw ApiException.BadRequest($"fetching '{uri}' gave HTTP {(int)response.StatusCode}", param, "image_fetch_failed");
            if (response.Content.Headers.ContentLength > options.MaxBodyBytes)
                throw new ApiException(HttpStatusCode.RequestEntityTooLarge, $"the image at '{uri}' is larger than --max-body-mb", param, "request_too_large");
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > options.MaxBodyBytes)
                    throw new ApiException(HttpStatusCode.RequestEntityTooLarge, $"the image at '{uri}' is larger than --max-body-mb", param, "request_too_large");
                buffer.Write(chunk, 0, read);
            }
            var mediaType = response.Content.Headers.ContentType?.MediaType ?? "image/*";
            return new DataContent(buffer.ToArray(), mediaType.StartsWith("image/", StringComparison.Ordinal) ? mediaType : "image/*");
        }
        catch (HttpRequestException e)
        {
            throw ApiException.BadRequest($"fetching '{uri}' failed: {e.Message}", param, "image_fetch_failed");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw ApiException.BadRequest($"fetching '{uri}' timed out", param, "image_fetch_failed");
        }
    }
}
