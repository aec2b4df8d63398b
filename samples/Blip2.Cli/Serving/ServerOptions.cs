namespace Blip2.Cli.Serving;

/// <summary>The settings of <c>blip2 serve</c> that shape how requests are taken.</summary>
public sealed record ServerOptions
{
    /// <summary>When set, /v1 requests need <c>Authorization: Bearer {ApiKey}</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Largest request body (and fetched image) accepted; larger ones are a 413.</summary>
    public long MaxBodyBytes { get; init; } = 20L * 1024 * 1024;

    /// <summary>Whether http(s) image URLs are fetched (off: only data: URLs).</summary>
    public bool AllowRemoteImages { get; init; }

    /// <summary>Retry-After on a full queue (429) or while shutting down (503).</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>Most choices per request (<c>n</c>).</summary>
    public int MaxChoices { get; init; } = 8;

    /// <summary>How long a SIGTERM waits for in-flight requests before cancelling them.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
