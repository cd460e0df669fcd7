using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Billing;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Meters each VPS's hours into <c>usage_segments</c>: every whole UTC hour that has ended and overlaps
/// the VPS's life, once. A run locks the watermark row (<c>usage_watermark</c>, "metered until hour
/// W") <c>FOR UPDATE</c> and moves it from W to the last ended hour U, so runs late, twice, concurrently
/// or on two nodes are serialized, and a run that finds W = U has nothing to add. Its work is
/// proportional to what changed: triggers on <c>vpses</c> mark every new VPS and every change of owner,
/// plan, status, node or deletion in <c>usage_changes</c>, and the run looks only at the marked VPSes.
/// Where the state (owner, plan, status, billable) differs from the open segment, it closes that at W
/// and opens the next one there; a deleted VPS's segment is closed at the end of the hour of deletion; a
/// new VPS's first segment opens at the hour of its creation. An unmarked VPS costs nothing: its open
/// segment reaches the new W by itself.
/// </summary>
/// <remarks>
/// The hours from W to U take the VPS's owner, plan and status as the run sees them: normally minutes
/// after the hour ends, so a plan change counts from the hour it happened in; a run that catches up
/// after an outage charges the missed hours at the current plan. Hours are not billable while the VPS
/// has no node and is not deleted (an order whose provisioning failed); after a deletion, the remaining
/// hours are billable unless the VPS's open segment was not. Traffic is counted apart, per VPS and UTC
/// day (<see cref="TrafficMeter"/>).
/// </remarks>
public sealed class UsageMeter(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Meters every VPS up to the last hour that has ended. Returns the number of VPS-hours this run added.</summary>
    public async Task<int> MeterAsync(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var until = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        db.Database.SetCommandTimeout(TimeSpan.FromMinutes(10));
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var (metered, open) = await LockWatermarkAsync(db, cancellationToken);
        // A run that finds W at U (another run got here first) - or past it (the clock went back) - leaves W
        // as it is; it only meters VPSes marked meanwhile that have no segment yet but were created before W
        // (a row written with an earlier creation time), so their hours are not left for the next hour's run.
        if (metered > until)
        {
            until = metered.Value;
        }

        // Before the first run there are no segments: W only matters for open ones.
        var from = metered ?? until;
        // The VPSes marked as new or changed since the last run, locked; one a transaction is marking right
        // now is left for the next run (its change is not committed: this run could not see it anyway).
        var marked = (await db.Database.SqlQuery<int>($"SELECT vps_id AS \"Value\" FROM usage_changes ORDER BY vps_id FOR UPDATE SKIP LOCKED")
            .ToListAsync(cancellationToken)).ToArray();
        var run = marked.Length > 0 ? await MeterMarkedAsync(db, marked, from, until, cancellationToken) : new MarkedRun(0, 0, 0, 0);
        // The open segments this run did not touch reach the new watermark by themselves.
        var hours = run.Hours + ((long)(open - run.OpenSeen) * ((until - from).Ticks / TimeSpan.TicksPerHour));
        var stillOpen = open - run.Closed + run.Opened;
        if (metered != until || stillOpen != open)
        {
            await db.UsageWatermarks.Where(w => w.Id == UsageWatermark.SingletonId)
                .ExecuteUpdateAsync(s => s.SetProperty(w => w.MeteredUntil, until).SetProperty(w => w.OpenSegments, stillOpen), cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return (int)Math.Min(int.MaxValue, hours);
    }

    /// <summary>
    /// Meters the marked VPSes from <paramref name="from"/> (the watermark W) to <paramref name="until"/>
    /// in one statement; returns the VPS-hours this adds for them, how many of them had an open segment,
    /// and how many open segments it closed and opened.
    /// </summary>
    /// <remarks>
    /// cur: each marked VPS with its open segment, or without any segment yet (new); step: the hours this
    /// run meters for it, [start_hour, stop_hour). closed: open segments whose state changed (closed at W)
    /// or whose VPS's deletion hour has passed (closed at the end of that hour, never before W). opened:
    /// segments for new VPSes (from their creation hour) and for changed ones (from W) - the latter through
    /// closed's RETURNING, so the old one is closed before the new one takes the "one open segment per VPS"
    /// index. settled: the marks of VPSes that need nothing more; a VPS created in the running hour or
    /// deleted in an hour that has not ended stays marked, and so does a VPS with an open segment when W
    /// does not move (a change seen then is applied from the next hour). date_trunc(…, 'UTC'): whole UTC hours whatever the
    /// session's time zone.
    /// </remarks>
    private static async Task<MarkedRun> MeterMarkedAsync(PanelDbContext db, int[] marked, DateTime from, DateTime until, CancellationToken cancellationToken)
    {
        var result = await db.Database.SqlQuery<MarkedRun>(
            $"""
            WITH cur AS (
                SELECT v.id AS vps_id, v.owner_id, v.plan_id, v.status,
                       v.node_id IS NOT NULL OR (v.deleted_at IS NOT NULL AND COALESCE(s.billable, TRUE)) AS billable,
                       date_trunc('hour', v.created_at, 'UTC') AS created_hour,
                       date_trunc('hour', v.deleted_at - interval '1 microsecond', 'UTC') + interval '1 hour' AS end_hour,
                       s.id AS seg_id, s.owner_id AS seg_owner, s.plan_id AS seg_plan, s.status AS seg_status, s.billable AS seg_billable
                FROM vpses v
                LEFT JOIN usage_segments s ON s.vps_id = v.id AND s.to_hour IS NULL
                WHERE v.id = ANY({marked}) AND v.created_at < {until}
                  AND (s.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM usage_segments x WHERE x.vps_id = v.id))
            ),
            step AS (
                SELECT c.*,
                       CASE WHEN c.seg_id IS NULL THEN c.created_hour ELSE {from} END AS start_hour,
                       LEAST(COALESCE(c.end_hour, {until}), {until}) AS stop_hour,
                       c.end_hour IS NOT NULL AND c.end_hour <= {until} AS finished,
                       c.seg_id IS NOT NULL
                           AND (c.seg_owner, c.seg_plan, c.seg_status, c.seg_billable) IS DISTINCT FROM (c.owner_id, c.plan_id, c.status, c.billable) AS changed
                FROM cur c
            ),
            closed AS (
                UPDATE usage_segments s
                SET to_hour = CASE WHEN st.changed AND st.stop_hour > {from} THEN {from} ELSE GREATEST(st.end_hour, {from}) END
                FROM step st
                WHERE s.id = st.seg_id AND ((st.changed AND st.stop_hour > {from}) OR st.finished)
                RETURNING st.vps_id, st.owner_id, st.plan_id, st.status, st.billable, st.changed AND st.stop_hour > {from} AS reopen,
                          st.finished, st.end_hour
            ),
            opened AS (
                INSERT INTO usage_segments (vps_id, owner_id, plan_id, status, billable, from_hour, to_hour)
                SELECT vps_id, owner_id, plan_id, status, billable, start_hour, CASE WHEN finished THEN end_hour END
                FROM step WHERE seg_id IS NULL
                UNION ALL
                SELECT vps_id, owner_id, plan_id, status, billable, {from}, CASE WHEN finished THEN end_hour END
                FROM closed WHERE reopen
                RETURNING to_hour IS NULL AS open
            ),
            settled AS (
                DELETE FROM usage_changes c USING vpses v
                WHERE c.vps_id = ANY({marked}) AND v.id = c.vps_id AND v.created_at < {until}
                  AND ({from} < {until} OR c.vps_id NOT IN (SELECT vps_id FROM cur WHERE seg_id IS NOT NULL))
                  AND (v.deleted_at IS NULL OR date_trunc('hour', v.deleted_at - interval '1 microsecond', 'UTC') + interval '1 hour' <= {until})
                RETURNING 1
            )
            SELECT (SELECT COALESCE(sum(GREATEST(0, EXTRACT(EPOCH FROM stop_hour - start_hour)::bigint / 3600)), 0)::bigint FROM step) AS hours,
                   (SELECT count(*)::int FROM cur WHERE seg_id IS NOT NULL) AS open_seen,
                   (SELECT count(*)::int FROM closed) AS closed,
                   (SELECT count(*)::int FROM opened WHERE open) AS opened
            """).ToListAsync(cancellationToken);
        return result.Single();
    }

    /// <summary>What <see cref="MeterMarkedAsync"/> did (its statement's columns in snake case, as the context names them).</summary>
    private sealed record MarkedRun(long Hours, int OpenSeen, int Closed, int Opened);

    /// <summary>Locks the watermark row for the caller's transaction (made on first use); returns it and the open segments' count.</summary>
    private static async Task<(DateTime? MeteredUntil, int OpenSegments)> LockWatermarkAsync(PanelDbContext db, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"INSERT INTO usage_watermark (id, metered_until, open_segments) VALUES ({UsageWatermark.SingletonId}, NULL, 0) ON CONFLICT (id) DO NOTHING", cancellationToken);
        var row = (await db.UsageWatermarks.FromSql($"SELECT * FROM usage_watermark WHERE id = {UsageWatermark.SingletonId} FOR UPDATE").AsNoTracking().ToListAsync(cancellationToken)).Single();
        return (row.MeteredUntil, row.OpenSegments);
    }

    /// <summary>The hour up to which usage is metered (null before the first run).</summary>
    internal static async Task<DateTime?> WatermarkAsync(PanelDbContext db, CancellationToken cancellationToken)
        => await db.UsageWatermarks.AsNoTracking().Where(w => w.Id == UsageWatermark.SingletonId).Select(w => w.MeteredUntil).FirstOrDefaultAsync(cancellationToken);

    /// <summary>
    /// The segments of <paramref name="vpsIds"/> (or of every VPS of <paramref name="ownerId"/>) that overlap
    /// [<paramref name="start"/>, <paramref name="end"/>), with the watermark that ends the open ones.
    /// </summary>
    internal static async Task<(IReadOnlyList<UsageSegment> Segments, DateTime Watermark)> SegmentsAsync(
        PanelDbContext db, int? vpsId, Guid? ownerId, DateTime start, DateTime end, CancellationToken cancellationToken)
    {
        var query = db.UsageSegments.AsNoTracking().Where(s => s.FromHour < end && (s.ToHour == null || s.ToHour > start));
        query = vpsId is { } v ? query.Where(s => s.VpsId == v) : query;
        query = ownerId is { } o ? query.Where(s => s.OwnerId == o) : query;
        // One statement: the watermark and the segments from one snapshot.
        var rows = await query.Select(s => new { Segment = s, Watermark = db.UsageWatermarks.Where(w => w.Id == UsageWatermark.SingletonId).Select(w => w.MeteredUntil).FirstOrDefault() })
            .ToListAsync(cancellationToken);
        var watermark = rows.Count == 0 ? start : rows[0].Watermark ?? start;
        return (rows.Select(r => r.Segment).ToList(), watermark);
    }

    /// <summary>
    /// A VPS's metered usage in the owner's current billing period: hours metered so far (by status),
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
        var (segments, watermark) = await SegmentsAsync(db, vpsId, null, start, end, cancellationToken);
        var hours = segments.Select(s => (s.Status, s.Billable, Hours: s.HoursIn(start, end, watermark))).Where(h => h.Hours > 0).ToList();
        var traffic = await TrafficMeter.BytesAsync(db, [vpsId], start, end, cancellationToken);
        return new VpsPeriodUsageView(vpsId, start, end, hours.Sum(h => h.Hours), hours.Where(h => h.Billable).Sum(h => h.Hours),
            hours.GroupBy(h => h.Status).ToDictionary(g => g.Key, g => g.Sum(h => h.Hours), StringComparer.Ordinal), traffic.GetValueOrDefault(vpsId));
    }
}

/// <summary>A VPS's metered usage in its owner's current billing period.</summary>
/// <param name="VpsId">The VPS.</param>
/// <param name="PeriodStart">Period start (UTC).</param>
/// <param name="PeriodEnd">Period end (UTC, exclusive).</param>
/// <param name="Hours">Hours metered so far (the metering job meters each hour minutes after it ends).</param>
/// <param name="BillableHours">Of those, the billable ones.</param>
/// <param name="HoursByStatus">Hours by the status the VPS had (Running, Stopped, Suspended, ...).</param>
/// <param name="TrafficBytes">Traffic in the period so far (bytes both ways, from the node's port counters).</param>
public sealed record VpsPeriodUsageView(int VpsId, DateTime PeriodStart, DateTime PeriodEnd, int Hours, int BillableHours, IReadOnlyDictionary<string, int> HoursByStatus, long TrafficBytes);
