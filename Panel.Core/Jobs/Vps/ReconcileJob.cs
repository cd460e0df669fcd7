using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Jobs.Vps;

/// <summary>What one reconciliation pass did (for logs and tests).</summary>
/// <param name="Redispatched">Operations whose job was lost and that were queued again.</param>
/// <param name="Started">VPSes that should run and did not, started.</param>
/// <param name="Corrected">VPSes whose recorded status was corrected to what the engine shows.</param>
/// <param name="Missing">VPSes whose guest is missing on the node (marked Error).</param>
/// <param name="Removed">Lingering guests of deleted VPSes, removed.</param>
/// <param name="Unknown">Guests on the node the database does not know (reported, left alone).</param>
public sealed record ReconcileReport(int Redispatched, int Started, int Corrected, int Missing, int Removed, IReadOnlyList<string> Unknown)
{
    /// <summary>One log line: the counts and the unknown guests by name.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"redispatched {Redispatched}, started {Started}, corrected {Corrected}, missing {Missing}, removed {Removed}, unknown {(Unknown.Count == 0 ? "none" : string.Join(' ', Unknown))}");
}

/// <summary>
/// Makes the database and the node agree, on the node itself (its queue), every minute and when the
/// node starts: operations whose job died with a process are queued again (they are idempotent);
/// a VPS that should run and does not is started (autostart after a host reboot); a recorded status
/// that differs from the engine's is corrected; a guest of a deleted VPS is removed; a guest nobody
/// knows is reported, never touched.
/// </summary>
[AutomaticRetry(Attempts = 0)]
[DisableConcurrentExecution(60)]
public sealed class ReconcileJob(
    IDbContextFactory<PanelDbContext> dbFactory,
    DriverRegistry drivers,
    OperationDispatcher dispatcher,
    VpsService vpses,
    AuditLog audit,
    PanelOptions options,
    TimeProvider clock,
    ILogger<ReconcileJob> logger)
{
    /// <summary>The recurring job's id for a node.</summary>
    public static string RecurringId(string node) => "reconcile-" + JobsServiceCollectionExtensions.NodeKey(node);

    /// <summary>How old a queued operation must be before its job counts as lost.</summary>
    public static readonly TimeSpan QueuedGrace = TimeSpan.FromSeconds(60);

    /// <summary>
    /// One pass for this node. <paramref name="atStart"/>: the node's process just started, so every
    /// running operation of this node lost its job, and a queued one may have been fetched by the dead
    /// process (Hangfire would only hand it out again after its invisibility timeout).
    /// </summary>
    [JobDisplayName("Reconcile node")]
    public async Task<ReconcileReport> RunAsync(bool atStart, CancellationToken cancellationToken)
    {
        var nodeName = JobsServiceCollectionExtensions.NodeKey(options.Jobs.NodeName);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var nodeId = await db.Nodes.Where(n => n.Name == nodeName).Select(n => (int?)n.Id).FirstOrDefaultAsync(cancellationToken);
        if (nodeId is null)
        {
            return new ReconcileReport(0, 0, 0, 0, 0, []);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var redispatched = await RedispatchLostAsync(db, nodeId.Value, atStart, now, cancellationToken);

        // What the engine has, per driver.
        var observed = new Dictionary<string, (IInstanceDriver Driver, InstanceStatus Status)>(StringComparer.Ordinal);
        foreach (var name in drivers.Names)
        {
            var info = await drivers.ProbeAsync(name, cancellationToken: cancellationToken);
            if (!info.Usable)
            {
                continue;
            }

            var driver = drivers.Get(name);
            foreach (var id in await driver.ListAsync(new ListOptions(), cancellationToken))
            {
                var state = await driver.GetStateAsync(new StateOptions(id), cancellationToken);
                observed[id] = (driver, state.Status);
            }
        }

        int started = 0, corrected = 0, missing = 0;
        var mine = await db.Vpses.Where(v => v.NodeId == nodeId && v.DeletedAt == null && v.BusyOperationId == null
                                             && (v.Status == VpsStatus.Running || v.Status == VpsStatus.Stopped || v.Status == VpsStatus.Error || v.Status == VpsStatus.Suspended))
            .ToListAsync(cancellationToken);
        foreach (var vps in mine)
        {
            if (!observed.TryGetValue(vps.EngineId, out var seen))
            {
                if (vps.Status != VpsStatus.Error || vps.StatusReason?.Contains("missing", StringComparison.Ordinal) != true)
                {
                    missing++;
                    await SetStatusAsync(db, vps.Id, VpsStatus.Error, $"its guest is missing on node {nodeName}", cancellationToken);
                    await audit.RecordAsync(Actor.System, AuditActions.Reconciled, $"vps:{vps.Id}", $"guest {vps.EngineId} missing on {nodeName}", cancellationToken);
                }

                continue;
            }

            var running = seen.Status is InstanceStatus.Running or InstanceStatus.Frozen;
            if (vps.ShouldRun && !running && vps.Status != VpsStatus.Suspended)
            {
                try
                {
                    // Record what is true first (it is stopped), then start it like anyone would.
                    await SetStatusAsync(db, vps.Id, VpsStatus.Stopped, null, cancellationToken);
                    await vpses.RequestAsync(Actor.System, vps.Id, OperationKind.Start, null, cancellationToken);
                    started++;
                    await audit.RecordAsync(Actor.System, AuditActions.Reconciled, $"vps:{vps.Id}", "should run but was stopped: started", cancellationToken);
                }
                catch (PanelRefusedException ex)
                {
                    logger.LogInformation("reconcile: VPS {Vps} not started: {Reason}", vps.Id, ex.Message);
                }
            }
            else if (vps.Status != VpsStatus.Suspended && (running ? VpsStatus.Running : VpsStatus.Stopped) is var truth && truth != vps.Status)
            {
                corrected++;
                await SetStatusAsync(db, vps.Id, truth, null, cancellationToken);
            }
        }

        // Guests the database does not place here: lingering ones of deleted VPSes go, unknown ones are reported.
        var removed = 0;
        var unknown = new List<string>();
        var placedHere = await db.Vpses.Where(v => v.NodeId == nodeId).Select(v => v.EngineId).ToListAsync(cancellationToken);
        var strangers = observed.Keys.Except(placedHere, StringComparer.Ordinal).ToList();
        var known = await db.Vpses.Where(v => strangers.Contains(v.EngineId))
            .Select(v => new { v.EngineId, v.Id, v.DeletedAt, v.NodeId, v.Status, v.BusyOperationId }).ToListAsync(cancellationToken);
        foreach (var id in strangers)
        {
            var row = known.FirstOrDefault(k => k.EngineId == id);
            // Lingering: the VPS is deleted, its creation failed, or it lives on another node and no
            // operation (a migration) is moving it: this copy is what a move left behind.
            if (row is not null && (row.DeletedAt is not null || (row.NodeId is null && row.Status == VpsStatus.Error)
                                    || (row.NodeId is not null && row.NodeId != nodeId && row.BusyOperationId is null)))
            {
                await observed[id].Driver.DeleteAsync(new DeleteOptions(id, Force: true), cancellationToken);
                removed++;
                await audit.RecordAsync(Actor.System, AuditActions.Reconciled, $"vps:{row.Id}", $"removed lingering guest {id} from {nodeName}", cancellationToken);
            }
            else if (row is null)
            {
                unknown.Add(id);
            }
        }

        if (unknown.Count > 0)
        {
            logger.LogWarning("node {Node}: guests the panel does not know: {Guests}", nodeName, string.Join(", ", unknown));
            if (atStart)
            {
                await audit.RecordAsync(Actor.System, AuditActions.Reconciled, $"node:{nodeName}", "unknown guests: " + string.Join(", ", unknown), cancellationToken);
            }
        }

        var report = new ReconcileReport(redispatched, started, corrected, missing, removed, unknown);
        if (report is not { Redispatched: 0, Started: 0, Corrected: 0, Missing: 0, Removed: 0 })
        {
            logger.LogInformation("node {Node} reconciled: {Report}", nodeName, report);
        }

        return report;
    }

    private async Task<int> RedispatchLostAsync(PanelDbContext db, int nodeId, bool atStart, DateTime now, CancellationToken cancellationToken)
    {
        var queuedBefore = now - QueuedGrace;
        var pending = await db.Operations
            .Where(o => o.NodeId == nodeId && o.VpsId != null
                        && (o.Status == OperationStatus.Running || (o.Status == OperationStatus.Queued && (atStart || o.CreatedAt < queuedBefore))))
            .Select(o => new { o.Id, VpsId = o.VpsId!.Value, o.Status })
            .ToListAsync(cancellationToken);
        if (pending.Count == 0)
        {
            return 0;
        }

        var count = 0;
        await using var conn = new NpgsqlConnection(db.Database.GetConnectionString());
        await conn.OpenAsync(cancellationToken);
        foreach (var op in pending)
        {
            // A job working on the VPS holds its advisory lock; a free lock means no job is working on it.
            if (!atStart && !await LockIsFreeAsync(conn, op.VpsId, cancellationToken))
            {
                continue;
            }

            await dispatcher.DispatchAsync(op.Id, cancellationToken);
            count++;
        }

        return count;
    }

    private static async Task<bool> LockIsFreeAsync(NpgsqlConnection conn, int vpsId, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(@space, @id)", conn);
        cmd.Parameters.AddWithValue("space", OperationRunner.LockSpace);
        cmd.Parameters.AddWithValue("id", vpsId);
        if (await cmd.ExecuteScalarAsync(cancellationToken) is not true)
        {
            return false;
        }

        await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@space, @id)", conn);
        unlock.Parameters.AddWithValue("space", OperationRunner.LockSpace);
        unlock.Parameters.AddWithValue("id", vpsId);
        await unlock.ExecuteScalarAsync(cancellationToken);
        return true;
    }

    private async Task SetStatusAsync(PanelDbContext db, int vpsId, VpsStatus status, string? reason, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        // Only while still not busy: an operation accepted meanwhile owns the status.
        await db.Vpses.Where(v => v.Id == vpsId && v.BusyOperationId == null)
            .ExecuteUpdateAsync(s => s.SetProperty(v => v.Status, status).SetProperty(v => v.StatusReason, reason).SetProperty(v => v.UpdatedAt, now), cancellationToken);
    }
}
