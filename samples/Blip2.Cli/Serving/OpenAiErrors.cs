using System.Net;
using System.Text.Json;
using Blip2Compiler;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Blip2Compiler.Serving;
using Microsoft.AspNetCore.Http;

namespace Blip2.Cli.Serving;

/// <summary>How failures become OpenAI's error JSON and status: the caller's mistakes are 4xx, never a 500.</summary>
public static class OpenAiErrors
{
    // Our option names (Hugging Face's) → the request fields they came from.
    private static readonly Dictionary<string, string> Params = new()
    {
        ["max_new_tokens"] = "max_completion_tokens", ["num_return_sequences"] = "n", ["temperature"] = "temperature",
        ["top_p"] = "top_p", ["top_k"] = "top_k", ["min_new_tokens"] = "min_tokens", ["repetition_penalty"] = "repetition_penalty",
        ["num_beams"] = "num_beams", ["max_length"] = "max_completion_tokens",
    };

    /// <summary>The error a failure maps to (null: the client left, nothing to answer).</summary>
    public static ApiException? From(Exception error, int retryAfterSeconds) => error switch
    {
        ApiException api => api,
        EngineQueueFullException full => new ApiException(HttpStatusCode.TooManyRequests, full.Message, code: "queue_full")
        { RetryAfterSeconds = retryAfterSeconds },
        EngineStoppedException stopped => new ApiException(HttpStatusCode.ServiceUnavailable, stopped.Message, code: "shutting_down")
        { RetryAfterSeconds = retryAfterSeconds },
        PromptTooLongException tooLong => ApiException.BadRequest(tooLong.Message, "messages", "context_length_exceeded"),
        EngineSequenceTooLongException tooLong => ApiException.BadRequest(tooLong.Message, "messages", "context_length_exceeded"),
        InvalidGenerationOptionException option => ApiException.BadRequest(option.Message, Params.GetValueOrDefault(option.Option, option.Option), "invalid_value"),
        ImageTooLargeException large => ApiException.BadRequest(large.Message, "messages", "image_too_large"),
        ImageDecodeException image => ApiException.BadRequest(image.Message, "messages", "invalid_image"),
        JsonException json => ApiException.BadRequest($"We could not parse the JSON body of your request: {json.Message}", code: "invalid_json"),
        BadHttpRequestException { StatusCode: 413 } => new ApiException(HttpStatusCode.RequestEntityTooLarge, "the request body is too large", code: "request_too_large"),
        BadHttpRequestException bad => new ApiException((HttpStatusCode)bad.StatusCode, bad.Message),
        Blip2Exception blip2 => ApiException.BadRequest(blip2.Message),
        // Cancelled by the engine, not by the client (that case never gets here): shutdown ran out of time.
        OperationCanceledException => new ApiException(HttpStatusCode.ServiceUnavailable, "the request was cancelled: the server is shutting down", code: "shutting_down")
        { RetryAfterSeconds = retryAfterSeconds },
        _ => new ApiException(HttpStatusCode.InternalServerError, "internal error: " + error.GetType().Name + ": " + error.Message),
    };

    public static object Body(ApiException error) => new
    {
        error = new { message = error.Message, type = error.Type, param = error.Param, code = error.Code },
    };

    public static async Task WriteAsync(HttpContext http, ApiException error)
    {
        http.Response.StatusCode = (int)error.Status;
        if (error.RetryAfterSeconds is { } seconds) http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (error.Status == HttpStatusCode.Unauthorized) http.Response.Headers.WWWAuthenticate = "Bearer";
        await http.Response.WriteAsJsonAsync(Body(error), http.RequestAborted).ConfigureAwait(false);
    }
}
