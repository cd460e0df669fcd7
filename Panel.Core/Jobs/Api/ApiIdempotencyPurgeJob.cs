using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Panel.Core.Domain.Api;
using Panel.Core.Persistence;

namespace Panel.Core.Jobs.Api;

/// <summary>
/// Daily: removes <c>Idempotency-Key</c> answers older than <see cref="ApiIdempotencyRecord.Retention"/>,
/// so the table holds a week of keys, not every call ever made. Idempotent (a second run finds nothing).
/// </summary>
[AutomaticRetry(Attempts = 3)]
public sealed class ApiIdempotencyPurgeJob(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock, ILogger<ApiIdempotencyPurgeJob> logger)
{
    /// <summary>The recurring job's id.</summary>
    public const string RecurringId = "api-idempotency-purge";

    /// <summary>Registers the daily run (03:15 UTC) on the default queue.</summary>
    public static void Register(IRecurringJobManager recurring)
    {
        ArgumentNullException.ThrowIfNull(recurring);
        recurring.AddOrUpdate<ApiIdempotencyPurgeJob>(RecurringId, JobsServiceCollectionExtensions.DefaultQueue, j => j.RunAsync(CancellationToken.None), "15 3 * * *",
            new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
    }

    /// <summary>Deletes the expired rows; returns how many.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var before = clock.GetUtcNow().UtcDateTime - ApiIdempotencyRecord.Retention;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var removed = await db.ApiIdempotency.Where(r => r.CreatedAt < before).ExecuteDeleteAsync(cancellationToken);
        if (removed > 0)
        {
            logger.LogInformation("api: {Count} idempotency keys older than {Days} days removed", removed, ApiIdempotencyRecord.Retention.TotalDays);
        }

        return removed;
    }
}
