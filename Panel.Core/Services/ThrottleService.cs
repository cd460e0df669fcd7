using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>What one throttle run asked for.</summary>
/// <param name="Throttled">Throttle operations dispatched (allowance used up).</param>
/// <param name="Restored">Unthrottle operations dispatched (the period ended).</param>
/// <param name="Busy">VPSes skipped because another operation holds them (the next run tries again).</param>
public sealed record ThrottleRunReport(int Throttled, int Restored, int Busy);

/// <summary>Inputs of a throttle operation: the speed and until when (the end of the owner's billing period, UTC).</summary>
/// <param name="Mbit">The throttle speed (Mbit/s).</param>
/// <param name="Until">When the billing period ends.</param>
public sealed record ThrottleParameters(int Mbit, DateTime Until);

/// <summary>
/// Enforces throttling plans (<see cref="Plan.ThrottleMbit"/>): a VPS whose traffic in its owner's current
/// billing period reached the plan's allowance gets a <see cref="OperationKind.Throttle"/> operation (port
/// speed down to the throttle speed until the period ends); a throttled VPS whose period ended gets an
/// <see cref="OperationKind.Unthrottle"/> (the plan's speed back). Both go through the normal operation
/// path, so they wait for any other operation of the VPS: a busy VPS is left for the next run. Idempotent:
/// a VPS with an operation under way or already throttled is not asked again.
/// </summary>
public sealed class ThrottleService(IDbContextFactory<PanelDbContext> dbFactory, VpsService vpses, AuditLog audit, TimeProvider clock, ILogger<ThrottleService> logger)
{
    /// <summary>One run over every VPS on a throttling plan and every throttled VPS.</summary>
    public async Task<ThrottleRunReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        int throttled = 0, restored = 0, busy = 0;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);

        // (b) first: throttles whose period ended (or whose VPS left the throttling plans some other way).
        var ended = await db.Vpses.AsNoTracking()
            .Where(v => v.ThrottledUntil != null && v.ThrottledUntil <= now && v.DeletedAt == null && v.NodeId != null)
            .Select(v => new { v.Id, v.Hostname, v.BusyOperationId, v.Plan.PortSpeedMbit })
            .ToListAsync(cancellationToken);
        foreach (var vps in ended)
        {
            if (vps.BusyOperationId is not null)
            {
                busy++;
                continue;
            }

            if (await RequestAsync(vps.Id, OperationKind.Unthrottle, null, cancellationToken))
            {
                await audit.RecordAsync(Actor.System, AuditActions.VpsUnthrottle, $"vps:{vps.Id}",
                    $"{vps.Hostname}: billing period ended, port speed back to {(vps.PortSpeedMbit is { } s ? $"{s} Mbit/s" : "no cap")}", cancellationToken);
                restored++;
            }
        }

        // (a) VPSes on a throttling plan, not throttled yet, with their owner's billing day.
        var candidates = await db.Vpses.AsNoTracking()
            .Where(v => v.ThrottledUntil == null && v.DeletedAt == null && v.NodeId != null
                && v.Plan.ThrottleMbit != null && v.Plan.MonthlyBandwidthBytes != null
                && v.Status != VpsStatus.Deleting && v.Status != VpsStatus.Deleted && v.Status != VpsStatus.Creating)
            .Select(v => new
            {
                v.Id, v.Hostname, v.BusyOperationId,
                Throttle = v.Plan.ThrottleMbit!.Value, Allowance = v.Plan.MonthlyBandwidthBytes!.Value,
                Day = db.BillingAccounts.Where(a => a.CustomerId == v.OwnerId).Select(a => (int?)a.BillingDay).FirstOrDefault(),
                SignedUp = db.Users.Where(u => u.Id == v.OwnerId).Select(u => u.CreatedAt).First(),
            })
            .ToListAsync(cancellationToken);
        foreach (var group in candidates.GroupBy(c => BillingRules.PeriodContaining(c.Day ?? BillingRules.BillingDayFor(c.SignedUp), now)))
        {
            var (start, end) = group.Key;
            var traffic = await TrafficMeter.BytesAsync(db, group.Select(c => c.Id).ToList(), start, end, cancellationToken);
            foreach (var vps in group)
            {
                var used = traffic.GetValueOrDefault(vps.Id);
                if (used < vps.Allowance)
                {
                    continue;
                }

                if (vps.BusyOperationId is not null)
                {
                    busy++;
                    continue;
                }

                var parameters = JsonSerializer.Serialize(new ThrottleParameters(vps.Throttle, end));
                if (await RequestAsync(vps.Id, OperationKind.Throttle, parameters, cancellationToken))
                {
                    await audit.RecordAsync(Actor.System, AuditActions.VpsThrottle, $"vps:{vps.Id}", string.Create(CultureInfo.InvariantCulture,
                        $"{vps.Hostname}: {used / (double)BillingRules.BytesPerGb:0.##} GB of {vps.Allowance / BillingRules.BytesPerGb} GB used, throttled to {vps.Throttle} Mbit/s until {end:yyyy-MM-dd HH:mm} UTC"), cancellationToken);
                    throttled++;
                }
            }
        }

        if (throttled + restored > 0)
        {
            logger.LogInformation("throttle: {Throttled} throttled, {Restored} restored, {Busy} busy", throttled, restored, busy);
        }

        return new ThrottleRunReport(throttled, restored, busy);
    }

    private async Task<bool> RequestAsync(int vpsId, OperationKind kind, string? parameters, CancellationToken cancellationToken)
    {
        try
        {
            await vpses.RequestAsync(Actor.System, vpsId, kind, parameters, cancellationToken);
            return true;
        }
        catch (PanelRefusedException ex)
        {
            logger.LogWarning("throttle: vps:{Vps} not {Kind} now ({Reason}); the next run tries again", vpsId, kind.ToString().ToLowerInvariant(), ex.Message);
            return false;
        }
    }
}
