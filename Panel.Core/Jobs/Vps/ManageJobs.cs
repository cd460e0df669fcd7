using Hangfire;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Jobs.Vps;

/// <summary>Takes a snapshot (running or stopped, as the driver allows) and records it.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class SnapshotJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Snapshot (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var name = OperationRunner.Parameters<SnapshotParameters>(ctx.Operation).Name;
            var existing = await ctx.Driver.ListSnapshotsAsync(ctx.Vps.EngineId, ct);
            var info = existing.FirstOrDefault(s => s.Name == name);
            if (info is null)
            {
                await ctx.ReportAsync(30, $"taking snapshot {name}");
                info = await ctx.Driver.CreateSnapshotAsync(new SnapshotOptions(ctx.Vps.EngineId, name), ct);
            }

            await using var db = await dbFactory.CreateDbContextAsync(ct);
            if (!await db.VpsSnapshots.AnyAsync(s => s.VpsId == ctx.Vps.Id && s.Name == name, ct))
            {
                db.VpsSnapshots.Add(new VpsSnapshot { VpsId = ctx.Vps.Id, Name = name, CreatedAt = clock.GetUtcNow().UtcDateTime, SizeBytes = info.SizeBytes });
                await db.SaveChangesAsync(ct);
            }

            return new OperationOutcome(await ctx.ObservedAsync(ct), $"snapshot {name} taken", RestoreJob.Suspension(ctx));
        }, onFailure: null, cancellationToken);
}

/// <summary>Puts the disk back to a snapshot; the guest runs afterwards if it ran before.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class RestoreJob(OperationRunner runner)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Restore snapshot (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var name = OperationRunner.Parameters<SnapshotParameters>(ctx.Operation).Name;
            await ctx.ReportAsync(30, $"restoring snapshot {name}");
            await ctx.Driver.RestoreSnapshotAsync(new SnapshotOptions(ctx.Vps.EngineId, name), ct);
            return new OperationOutcome(await ctx.ObservedAsync(ct), $"restored to {name}", Suspension(ctx));
        }, onFailure: null, cancellationToken);

    internal static string? Suspension(OperationContext ctx) => ctx.Vps.Status == VpsStatus.Suspended ? ctx.Vps.StatusReason : null;
}

/// <summary>Removes a snapshot.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class DeleteSnapshotJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Delete snapshot (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var name = OperationRunner.Parameters<SnapshotParameters>(ctx.Operation).Name;
            await ctx.ReportAsync(30, $"deleting snapshot {name}");
            await ctx.Driver.DeleteSnapshotAsync(new SnapshotOptions(ctx.Vps.EngineId, name), ct);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            await db.VpsSnapshots.Where(s => s.VpsId == ctx.Vps.Id && s.Name == name).ExecuteDeleteAsync(ct);
            return new OperationOutcome(await ctx.ObservedAsync(ct), $"snapshot {name} deleted", RestoreJob.Suspension(ctx));
        }, onFailure: null, cancellationToken);
}

/// <summary>Reinstalls: a fresh disk from the chosen image; same address, plan and name; snapshots go.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class ReinstallJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Reinstall (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var p = OperationRunner.Parameters<ReinstallParameters>(ctx.Operation);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var image = await db.Images.AsNoTracking().FirstAsync(i => i.Id == p.ImageId, ct);
            await ctx.ReportAsync(20, "removing the old disk");
            await ctx.Driver.DeleteAsync(new DeleteOptions(ctx.Vps.EngineId, Force: true), ct);
            await db.VpsSnapshots.Where(s => s.VpsId == ctx.Vps.Id).ExecuteDeleteAsync(ct);
            var spec = ctx.Spec(new GuestAccess(null, p.SshKeys, p.RootPasswordHash)) with { Image = image.Name };
            await ctx.ReportAsync(40, $"installing {image.DisplayName}");
            await ctx.Driver.CreateAsync(new CreateOptions(spec), ct);
            await db.Vpses.Where(v => v.Id == ctx.Vps.Id).ExecuteUpdateAsync(s => s.SetProperty(v => v.ImageId, image.Id), ct);
            if (ctx.Vps.Status == VpsStatus.Suspended)
            {
                return new OperationOutcome(VpsStatus.Suspended, $"reinstalled with {image.DisplayName}", ctx.Vps.StatusReason);
            }

            await ctx.ReportAsync(80, "starting");
            await ctx.Driver.StartAsync(new StartOptions(spec.Id), ct);
            await db.Vpses.Where(v => v.Id == ctx.Vps.Id).ExecuteUpdateAsync(s => s.SetProperty(v => v.ShouldRun, true), ct);
            return new OperationOutcome(VpsStatus.Running, $"reinstalled with {image.DisplayName}, running");
        }, onFailure: null, cancellationToken);
}

/// <summary>
/// Changes plan: limits change live where the driver can, otherwise at the next start; the disk grows.
/// A throttle in force (<see cref="Domain.Compute.Vps.ThrottledUntil"/>) stays until its period ends when the
/// new plan throttles too (at the new plan's throttle speed: the allowance was used up this period either way),
/// and is lifted at once when the new plan does not throttle (it has no throttle speed to keep).
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class ResizeJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Change plan (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var planId = OperationRunner.Parameters<ResizeParameters>(ctx.Operation).PlanId;
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == planId, ct);
            var throttledUntil = ctx.Vps.ThrottledUntil is { } until && until > clock.GetUtcNow().UtcDateTime && plan.ThrottleMbit is not null ? until : (DateTime?)null;
            var speed = throttledUntil is null ? plan.PortSpeedMbit : plan.ThrottleMbit;
            await ctx.ReportAsync(30, $"applying {plan.Name}: {plan.Vcpus} vCPU, {plan.MemoryBytes >> 20} MiB, {plan.DiskBytes >> 30} GiB"
                + (throttledUntil is { } t ? $", throttled to {speed} Mbit/s until {t:yyyy-MM-dd HH:mm} UTC" : ""));
            await ctx.Driver.UpdateLimitsAsync(new UpdateLimitsOptions(ctx.Vps.EngineId,
                new InstanceLimits(plan.Vcpus, plan.MemoryBytes, Math.Max(plan.DiskBytes, ctx.Vps.DiskBytes), plan.MaxProcesses, PortSpeedMbit: speed)), ct);
            await db.Vpses.Where(v => v.Id == ctx.Vps.Id).ExecuteUpdateAsync(s => s
                .SetProperty(v => v.PlanId, plan.Id)
                .SetProperty(v => v.Vcpus, plan.Vcpus)
                .SetProperty(v => v.MemoryBytes, plan.MemoryBytes)
                .SetProperty(v => v.DiskBytes, v => plan.DiskBytes > v.DiskBytes ? plan.DiskBytes : v.DiskBytes)
                .SetProperty(v => v.MaxProcesses, plan.MaxProcesses)
                .SetProperty(v => v.PortSpeedMbit, speed)
                .SetProperty(v => v.ThrottledUntil, throttledUntil), ct);
            return new OperationOutcome(await ctx.ObservedAsync(ct), $"now on {plan.Name}", RestoreJob.Suspension(ctx));
        }, onFailure: null, cancellationToken);
}

/// <summary>
/// Slows the port to the throttle speed (live on every driver, and kept across restarts through the VPS's
/// recorded speed) and marks the VPS throttled until its billing period ends. Safe to run again.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class ThrottleJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Throttle (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var p = OperationRunner.Parameters<ThrottleParameters>(ctx.Operation);
            await ctx.ReportAsync(30, $"traffic allowance used up: port speed to {p.Mbit} Mbit/s until {p.Until:yyyy-MM-dd HH:mm} UTC");
            await ctx.Driver.UpdateLimitsAsync(new UpdateLimitsOptions(ctx.Vps.EngineId, Limits(ctx.Vps, p.Mbit)), ct);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            await db.Vpses.Where(v => v.Id == ctx.Vps.Id).ExecuteUpdateAsync(s => s
                .SetProperty(v => v.PortSpeedMbit, p.Mbit)
                .SetProperty(v => v.ThrottledUntil, p.Until), ct);
            return new OperationOutcome(await ctx.ObservedAsync(ct), $"throttled to {p.Mbit} Mbit/s until {p.Until:yyyy-MM-dd HH:mm} UTC", RestoreJob.Suspension(ctx));
        }, onFailure: null, cancellationToken);

    internal static InstanceLimits Limits(Domain.Compute.Vps vps, int? portSpeedMbit)
        => new(vps.Vcpus, vps.MemoryBytes, vps.DiskBytes, vps.MaxProcesses, PortSpeedMbit: portSpeedMbit);
}

/// <summary>Gives the port its plan's speed back and clears the throttle mark (the throttled period ended). Safe to run again.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class UnthrottleJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Unthrottle (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var speed = await db.Plans.Where(p => p.Id == ctx.Vps.PlanId).Select(p => p.PortSpeedMbit).FirstAsync(ct);
            var text = speed is { } mbit ? $"{mbit} Mbit/s" : "no cap";
            await ctx.ReportAsync(30, $"billing period ended: port speed back to {text}");
            await ctx.Driver.UpdateLimitsAsync(new UpdateLimitsOptions(ctx.Vps.EngineId, ThrottleJob.Limits(ctx.Vps, speed)), ct);
            await db.Vpses.Where(v => v.Id == ctx.Vps.Id).ExecuteUpdateAsync(s => s
                .SetProperty(v => v.PortSpeedMbit, speed)
                .SetProperty(v => v.ThrottledUntil, (DateTime?)null), ct);
            return new OperationOutcome(await ctx.ObservedAsync(ct), $"port speed back to {text}", RestoreJob.Suspension(ctx));
        }, onFailure: null, cancellationToken);
}

/// <summary>Writes a new root password and SSH keys into the guest.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class ResetAccessJob(OperationRunner runner)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Reset access (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var p = OperationRunner.Parameters<AccessParameters>(ctx.Operation);
            await ctx.ReportAsync(40, "writing the root password and SSH keys");
            await ctx.Driver.ResetAccessAsync(new ResetAccessOptions(ctx.Vps.EngineId, new GuestAccess(null, p.SshKeys, p.RootPasswordHash)), ct);
            return new OperationOutcome(await ctx.ObservedAsync(ct), "access reset", RestoreJob.Suspension(ctx));
        }, onFailure: null, cancellationToken);
}

/// <summary>Stops the VPS and locks it against its owner.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class SuspendJob(OperationRunner runner)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Suspend (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var reason = OperationRunner.Parameters<SuspendParameters>(ctx.Operation).Reason;
            await ctx.ReportAsync(30, "shutting down");
            await ctx.Driver.StopAsync(new StopOptions(ctx.Vps.EngineId), ct);
            return new OperationOutcome(VpsStatus.Suspended, "suspended: " + reason, reason);
        }, onFailure: null, cancellationToken);
}

/// <summary>Lifts a suspension and starts the VPS.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class UnsuspendJob(OperationRunner runner)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Unsuspend (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunSingleStepAsync(operationId, "starting", (ctx, ct) => ctx.Driver.StartAsync(new StartOptions(ctx.Vps.EngineId), ct), VpsStatus.Running, "unsuspended, running", cancellationToken);
}
