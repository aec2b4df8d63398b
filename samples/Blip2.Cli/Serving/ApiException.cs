using System.Net;

namespace Blip2.Cli.Serving;

/// <summary>
/// A request the server answers with an OpenAI-shaped error: <c>{"error": {"message", "type", "param", "code"}}</c>
/// with <see cref="Status"/> (and Retry-After when <see cref="RetryAfterSeconds"/> is set).
/// </summary>
public sealed class ApiException(HttpStatusCode status, string message, string? param = null, string? code = null, string? type = null)
    : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    /// <summary>OpenAI's error type: invalid_request_error for the caller's mistakes, server_error for ours.</summary>
    public string Type { get; } = type ?? ((int)status >= 500 ? "server_error" : "invalid_request_error");

    public int? RetryAfterSeconds { get; init; }

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(HttpStatusCode.BadRequest, message, param, code);
}
