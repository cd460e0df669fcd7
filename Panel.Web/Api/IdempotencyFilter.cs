using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Persistence;

namespace Panel.Web.Api;

/// <summary>
/// <c>Idempotency-Key</c> on every mutating API call (required). The first call with a key inserts the
/// key's row (token, key, request hash) in a transaction that stays open while the work is done, and
/// commits it with the answer (status, body, Location). A later call with the key replays that answer
/// without doing the work again (header <c>Idempotent-Replayed: true</c>); one made while the first
/// is still working waits on the row (PostgreSQL blocks the conflicting insert) and then replays too,
/// so concurrent calls with one key do the work once. The same key with another method, path or body
/// is refused with 422. Answers of 500 and more are not kept (the row is rolled back), so a retry
/// does the work; refusals (4xx) are kept like successes.
/// </summary>
public sealed class IdempotencyFilter(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock) : IEndpointFilter
{
    /// <summary>The request header.</summary>
    public const string Header = "Idempotency-Key";

    /// <summary>The answer header marking a replay.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <inheritdoc />
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
        {
            return await next(context);
        }

        string? key = http.Request.Headers[Header];
        if (string.IsNullOrWhiteSpace(key))
        {
            return ApiProblems.BadRequest($"Send an {Header} header (a unique value per operation, e.g. a UUID): a retry with the same key is answered without doing the work twice.", Header);
        }

        if (key.Length > 200 || key.Any(c => c is < '!' or > '~'))
        {
            return ApiProblems.BadRequest($"An {Header} is 1-200 printable ASCII characters without spaces.", Header);
        }

        if (!Guid.TryParse(http.User.FindFirstValue(ApiTokenAuthenticationHandler.TokenClaim), out var tokenId))
        {
            return ApiProblems.Unexpected();
        }

        var cancellationToken = http.RequestAborted;
        var (hash, request) = await HashAsync(http.Request, cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        // Blocks while another transaction holds an uncommitted row for the key; inserts nothing once it committed.
        var inserted = await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO api_idempotency (token_id, key, request_hash, request, status_code, created_at)
            VALUES ({tokenId}, {key}, {hash}, {request}, 0, {now})
            ON CONFLICT (token_id, key) DO NOTHING
            """,
            cancellationToken);
        if (inserted == 0)
        {
            await tx.RollbackAsync(cancellationToken);
            var stored = await db.ApiIdempotency.AsNoTracking().FirstAsync(r => r.TokenId == tokenId && r.Key == key, cancellationToken);
            if (stored.RequestHash != hash)
            {
                return TypedResults.Problem(
                    $"The {Header} {key} was used for another request ({stored.Request} with another body); use a new key for a new request.",
                    statusCode: StatusCodes.Status422UnprocessableEntity);
            }

            http.Response.Headers[ReplayedHeader] = "true";
            return new StoredAnswer(stored.StatusCode, stored.ContentType, stored.ResponseBody, stored.Location);
        }

        var answer = await StoredAnswer.CaptureAsync(http, await next(context));
        if (answer.StatusCode >= 500)
        {
            await tx.RollbackAsync(CancellationToken.None);
            return answer;
        }

        // The work is done: keep the answer even if the client went away meanwhile.
        await db.ApiIdempotency.Where(r => r.TokenId == tokenId && r.Key == key).ExecuteUpdateAsync(s => s
            .SetProperty(r => r.StatusCode, answer.StatusCode)
            .SetProperty(r => r.ContentType, answer.ContentType)
            .SetProperty(r => r.ResponseBody, answer.Body)
            .SetProperty(r => r.Location, answer.Location), CancellationToken.None);
        await tx.CommitAsync(CancellationToken.None);
        return answer;
    }

    /// <summary>SHA-256 (hex) over method, path, query and body; the body was buffered by the API pipeline.</summary>
    private static async Task<(string Hash, string Request)> HashAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var line = $"{request.Method} {request.Path}{request.QueryString}";
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(line + "\n"));
        if (request.Body.CanSeek)
        {
            request.Body.Position = 0;
            var buffer = new byte[8192];
            int read;
            while ((read = await request.Body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                sha.AppendData(buffer, 0, read);
            }

            request.Body.Position = 0;
        }

        return (Convert.ToHexStringLower(sha.GetHashAndReset()), line.Length <= 300 ? line : line[..300]);
    }

    /// <summary>An answer as kept in <c>api_idempotency</c>, written again on a replay.</summary>
    private sealed record StoredAnswer(int StatusCode, string? ContentType, string? Body, string? Location) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCode;
            if (Location is not null)
            {
                httpContext.Response.Headers.Location = Location;
            }

            if (Body is not null)
            {
                httpContext.Response.ContentType = ContentType;
                await httpContext.Response.WriteAsync(Body, httpContext.RequestAborted);
            }
        }

        /// <summary>Runs a handler's result into memory (nothing reaches the client yet) and keeps what it wrote.</summary>
        public static async Task<StoredAnswer> CaptureAsync(HttpContext http, object? result)
        {
            var original = http.Response.Body;
            using var buffer = new MemoryStream();
            http.Response.Body = buffer;
            try
            {
                var executable = result as IResult ?? (result is null ? TypedResults.NoContent() : TypedResults.Json(result));
                await executable.ExecuteAsync(http);
            }
            finally
            {
                http.Response.Body = original;
            }

            string? location = http.Response.Headers.Location;
            var body = buffer.Length == 0 ? null : Encoding.UTF8.GetString(buffer.ToArray());
            http.Response.Headers.Location = default;
            return new StoredAnswer(http.Response.StatusCode, http.Response.ContentType, body, location);
        }
    }
}
