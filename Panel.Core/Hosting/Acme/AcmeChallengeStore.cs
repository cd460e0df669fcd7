using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Persistence;

namespace Panel.Core.Hosting.Acme;

/// <summary>
/// The HTTP-01 answers of running orders, in <c>acme_challenges</c> so that the edge of every panel process can
/// answer them, with a small cache in front (answers for 10 s, unknown tokens for 1 s) so that a flood of
/// guesses does not become a flood of queries.
/// </summary>
public sealed class AcmeChallengeStore(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    private static readonly TimeSpan Known = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Unknown = TimeSpan.FromSeconds(1);
    private readonly ConcurrentDictionary<string, (AcmeChallengeAnswer? Answer, DateTimeOffset Until)> cache = new(StringComparer.Ordinal);

    /// <summary>The path prefix HTTP-01 uses.</summary>
    public const string PathPrefix = "/.well-known/acme-challenge";

    /// <summary>Whether a token is made of base64url characters only (RFC 8555 §8.3), so it can be looked up.</summary>
    public static bool IsToken(string? token)
        => token is { Length: > 0 and <= 200 } && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>Records a challenge answer before the server is told to check it.</summary>
    public async Task PutAsync(int siteId, string name, string token, string keyAuthorization, CancellationToken cancellationToken = default)
    {
        if (!IsToken(token))
        {
            throw new AcmeException("the ACME server sent a challenge token that is not base64url");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO acme_challenges (token, site_id, name, key_authorization, created_at) VALUES ({token}, {siteId}, {name}, {keyAuthorization}, {now})
            ON CONFLICT (token) DO UPDATE SET site_id = EXCLUDED.site_id, name = EXCLUDED.name, key_authorization = EXCLUDED.key_authorization, created_at = EXCLUDED.created_at
            """, cancellationToken);
        cache.TryRemove(token, out _);
    }

    /// <summary>Removes a site's challenges (its order ended), and any older than a day (an order a crash left behind).</summary>
    public async Task RemoveAsync(int siteId, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var stale = clock.GetUtcNow().UtcDateTime.AddDays(-1);
        await db.AcmeChallenges.Where(c => c.SiteId == siteId || c.CreatedAt < stale).ExecuteDeleteAsync(cancellationToken);
        cache.Clear(); // this process answers none of them any more at once; the others within the cache's 10 s
    }

    /// <summary>The answer for a token asked for on a host, or null (unknown token, or another name's).</summary>
    public async Task<string?> AnswerAsync(string host, string token, CancellationToken cancellationToken = default)
    {
        if (!IsToken(token))
        {
            return null;
        }

        var now = clock.GetUtcNow();
        if (!cache.TryGetValue(token, out var hit) || hit.Until <= now)
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var row = await db.AcmeChallenges.AsNoTracking().Where(c => c.Token == token)
                .Select(c => new AcmeChallengeAnswer(c.Name, c.KeyAuthorization)).FirstOrDefaultAsync(cancellationToken);
            if (cache.Count > 10_000)
            {
                cache.Clear();
            }

            hit = (row, now + (row is null ? Unknown : Known));
            cache[token] = hit;
        }

        return hit.Answer is { } answer && string.Equals(answer.Name, host.TrimEnd('.'), StringComparison.OrdinalIgnoreCase) ? answer.KeyAuthorization : null;
    }

    private sealed record AcmeChallengeAnswer(string Name, string KeyAuthorization);
}
