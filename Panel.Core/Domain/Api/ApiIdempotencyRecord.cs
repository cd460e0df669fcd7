namespace Panel.Core.Domain.Api;

/// <summary>
/// The first answer to a mutating API call with an <c>Idempotency-Key</c>, per token and key. The row is
/// inserted before the work and committed with the answer, so a concurrent call with the same key waits
/// on it and replays the answer; <see cref="RequestHash"/> tells a replay from a different request.
/// </summary>
public sealed class ApiIdempotencyRecord
{
    /// <summary>How long a key replays its answer; the daily purge removes older rows (a later call with the key is new).</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(7);

    /// <summary>The token that made the call.</summary>
    public Guid TokenId { get; set; }

    /// <summary>The client's key.</summary>
    public string Key { get; set; } = "";

    /// <summary>SHA-256 (hex) of the method, path and body.</summary>
    public string RequestHash { get; set; } = "";

    /// <summary>Method and path, for people reading the table.</summary>
    public string Request { get; set; } = "";

    /// <summary>The answer's status code.</summary>
    public int StatusCode { get; set; }

    /// <summary>The answer's content type.</summary>
    public string? ContentType { get; set; }

    /// <summary>The answer's body.</summary>
    public string? ResponseBody { get; set; }

    /// <summary>The answer's Location header.</summary>
    public string? Location { get; set; }

    /// <summary>First call (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}
