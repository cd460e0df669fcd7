using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Billing;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Records each VPS's billable hours in <c>usage_hours</c>: every whole UTC hour that has ended and
/// overlaps the VPS's life, once. One statement per run: for each VPS, the hours after the last one
/// recorded (or from the hour of its creation) up to the last ended hour, and not past its deletion,
/// inserted <c>ON CONFLICT (vps_id, hour_start) DO NOTHING</c>. A late run catches up on every missed
/// hour; a second or concurrent run (another process, another node) adds nothing.
/// </summary>
/// <remarks>
/// Each hour records the VPS's owner, plan and status at the time of the run: normally minutes
/// after the hour ends, so a plan change counts from the hour it happened in; a run that catches up
/// after an outage charges the missed hours at the current plan. An hour is not billable while the
/// VPS has no node and is not deleted (an order whose provisioning failed); after a deletion, the
/// remaining hours are billable unless the last recorded hour was not. Traffic
/// (<c>bandwidth_bytes</c>) stays null: the engine's counters live on each node and are not collected
/// yet.
/// </remarks>
public sealed class UsageMeter(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Meters every VPS up to the last hour that has ended. Returns the number of hours recorded.</summary>
    public async Task<int> MeterAsync(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var until = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        db.Database.SetCommandTimeout(TimeSpan.FromMinutes(10));
        // date_trunc(…, 'UTC'): whole UTC hours whatever the session's time zone.
        return await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO usage_hours (vps_id, hour_start, owner_id, plan_id, status, billable)
            SELECT v.id, h.hour_start, v.owner_id, v.plan_id, v.status,
                   v.node_id IS NOT NULL OR (v.deleted_at IS NOT NULL AND COALESCE(last.billable, TRUE))
            FROM vpses v
            LEFT JOIN LATERAL (
                SELECT u.hour_start, u.billable FROM usage_hours u WHERE u.vps_id = v.id ORDER BY u.hour_start DESC LIMIT 1
            ) last ON TRUE
            CROSS JOIN LATERAL generate_series(
                COALESCE(last.hour_start + interval '1 hour', date_trunc('hour', v.created_at, 'UTC')),
                LEAST({until} - interval '1 hour', date_trunc('hour', v.deleted_at - interval '1 microsecond', 'UTC')),
                interval '1 hour') AS h(hour_start)
            WHERE v.created_at < {until}
            ON CONFLICT (vps_id, hour_start) DO NOTHING
            """,
            cancellationToken);
    }

    /// <summary>
    /// A VPS's metered usage in the owner's current billing period: hours recorded so far (by status),
    /// billable hours and traffic. For its owner and admins; anyone else gets "not found".
    /// </summary>
    public async Task<VpsPeriodUsageView> UsageAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var vps = await db.Vpses.AsNoTracking().Where(v => v.Id == vpsId && (actor.IsAdmin || v.OwnerId == actor.UserId))
            .Select(v => new
            {
                v.OwnerId,
                Day = db.BillingAccounts.Where(a => a.CustomerId == v.OwnerId).Select(a => (int?)a.BillingDay).FirstOrDefault(),
                SignedUp = db.Users.Where(u => u.Id == v.OwnerId).Select(u => u.CreatedAt).First(),
            })
            .FirstOrDefaultAsync(cancellationToken) ?? throw new PanelNotFoundException($"No server #{vpsId}.");
        var (start, end) = BillingRules.PeriodContaining(vps.Day ?? BillingRules.BillingDayFor(vps.SignedUp), clock.GetUtcNow().UtcDateTime);
        var hours = await db.UsageHours.AsNoTracking().Where(u => u.VpsId == vpsId && u.HourStart >= start && u.HourStart < end)
            .GroupBy(u => new { u.Status, u.Billable })
            .Select(g => new { g.Key.Status, g.Key.Billable, Hours = g.Count(), Bytes = g.Sum(u => u.BandwidthBytes ?? 0) })
            .ToListAsync(cancellationToken);
        return new VpsPeriodUsageView(vpsId, start, end, hours.Sum(h => h.Hours), hours.Where(h => h.Billable).Sum(h => h.Hours),
            hours.GroupBy(h => h.Status).ToDictionary(g => g.Key, g => g.Sum(h => h.Hours), StringComparer.Ordinal), hours.Sum(h => h.Bytes));
    }
}

/// <summary>A VPS's metered usage in its owner's current billing period.</summary>
/// <param name="VpsId">The VPS.</param>
/// <param name="PeriodStart">Period start (UTC).</param>
/// <param name="PeriodEnd">Period end (UTC, exclusive).</param>
/// <param name="Hours">Hours metered so far (the metering job records each hour minutes after it ends).</param>
/// <param name="BillableHours">Of those, the billable ones.</param>
/// <param name="HoursByStatus">Hours by the status the VPS had (Running, Stopped, Suspended, ...).</param>
/// <param name="TrafficBytes">Traffic in the period (0 until the nodes' counters are collected).</param>
public sealed record VpsPeriodUsageView(int VpsId, DateTime PeriodStart, DateTime PeriodEnd, int Hours, int BillableHours, IReadOnlyDictionary<string, int> HoursByStatus, long TrafficBytes);
