using Hangfire;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Jobs.Vps;

// One Hangfire job class per operation kind. Each takes only the operation id, reloads everything,
// and is safe to run twice or after a crash at any point: the runner skips ended operations, and each
// body checks what the engine already has before acting. Hangfire does not retry them by itself - a
// failure is recorded on the operation; crashed runs are dispatched again by reconciliation.

/// <summary>Creates and starts a new VPS on this node.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class ProvisionJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Provision (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var parameters = OperationRunner.Parameters<ProvisionParameters>(ctx.Operation);
            var spec = ctx.Spec(new GuestAccess(null, parameters.SshKeys, parameters.RootPasswordHash));
            if (ctx.Operation.Attempts > 1)
            {
                // An earlier attempt was cut off (perhaps inside the engine's create, leaving a half-made
                // guest the engine does not list): what it made holds nothing of the customer's yet.
                await ctx.ReportAsync(10, "removing what an interrupted attempt left");
                await ctx.Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true), ct);
            }

            if (!await ctx.ExistsAsync(ct))
            {
                await ctx.ReportAsync(20, $"creating the {ctx.Vps.Plan.Approach switch { VirtualizationKind.Container => "container", VirtualizationKind.ParaVirtual => "para-virtual guest", _ => "virtual machine" }}: {ctx.Vps.Image.DisplayName}, {spec.Network.IPv4}");
                await ctx.Driver.CreateAsync(new CreateOptions(spec), ct);
            }

            await ctx.ReportAsync(60, "starting");
            await ctx.Driver.StartAsync(new StartOptions(spec.Id), ct);
            return new OperationOutcome(VpsStatus.Running, $"running at {spec.Network.IPv4}");
        },
        async (ctx, _, ct) =>
        {
            // Release everything: the guest, the address, the node's capacity.
            await ctx.Driver.DeleteAsync(new DeleteOptions(ctx.Vps.EngineId, Force: true), ct);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            await VpsResources.ReleaseAsync(db, ctx.Vps.Id, deletedAt: null, ct);
            return VpsStatus.Error;
        },
        cancellationToken);
}

/// <summary>Powers a VPS on.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class StartJob(OperationRunner runner)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Start (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunSingleStepAsync(operationId, "starting", (ctx, ct) => ctx.Driver.StartAsync(new StartOptions(ctx.Vps.EngineId), ct), VpsStatus.Running, "running", cancellationToken);
}

/// <summary>Shuts a VPS down cleanly (forced after the grace period).</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class StopJob(OperationRunner runner)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Stop (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunSingleStepAsync(operationId, "shutting down", (ctx, ct) => ctx.Driver.StopAsync(new StopOptions(ctx.Vps.EngineId), ct), VpsStatus.Stopped, "stopped", cancellationToken);
}

/// <summary>Powers a VPS off at once.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class ForceStopJob(OperationRunner runner)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Force off (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunSingleStepAsync(operationId, "powering off", (ctx, ct) => ctx.Driver.StopAsync(new StopOptions(ctx.Vps.EngineId, GracePeriod: TimeSpan.Zero), ct), VpsStatus.Stopped, "stopped", cancellationToken);
}

/// <summary>Restarts a VPS.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class RebootJob(OperationRunner runner)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Reboot (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunSingleStepAsync(operationId, "rebooting", (ctx, ct) => ctx.Driver.RestartAsync(new RestartOptions(ctx.Vps.EngineId), ct), VpsStatus.Running, "running", cancellationToken);
}

/// <summary>Deletes a VPS: the guest and its disk go, its address and capacity are freed.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class DeleteJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory, BackupFolders folders, TimeProvider clock)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Delete (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            await ctx.ReportAsync(20, "removing the guest and its disk");
            await ctx.Driver.DeleteAsync(new DeleteOptions(ctx.Vps.EngineId, Force: true), ct);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var backups = await db.VpsBackups.Where(b => b.VpsId == ctx.Vps.Id).ToListAsync(ct);
            if (backups.Count > 0)
            {
                await ctx.ReportAsync(60, $"removing its {backups.Count} backup(s)");
                foreach (var b in backups)
                {
                    folders.RemoveArchive(b.Archive);
                }

                db.VpsBackups.RemoveRange(backups);
                await db.SaveChangesAsync(ct);
            }

            BackupFolders.RemoveFolder(folders.ForVps(ctx.Vps.Id));
            await ctx.ReportAsync(80, "freeing its addresses");
            await VpsResources.ReleaseAsync(db, ctx.Vps.Id, clock.GetUtcNow().UtcDateTime, ct);
            return new OperationOutcome(VpsStatus.Deleted, "deleted");
        }, onFailure: null, cancellationToken);
}

/// <summary>What a VPS holds on its node and in the pools, given back (a failed provision, a delete).</summary>
internal static class VpsResources
{
    /// <summary>Frees its addresses and its node's capacity and stops reconciliation from starting it, in one transaction; <paramref name="deletedAt"/> marks it deleted.</summary>
    public static async Task ReleaseAsync(PanelDbContext db, int vpsId, DateTime? deletedAt, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.IpAddresses.Where(a => a.VpsId == vpsId)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.VpsId, (int?)null).SetProperty(a => a.AllocatedAt, (DateTime?)null), cancellationToken);
        await db.Vpses.Where(v => v.Id == vpsId).ExecuteUpdateAsync(s => s
            .SetProperty(v => v.NodeId, (int?)null)
            .SetProperty(v => v.ShouldRun, false)
            .SetProperty(v => v.DeletedAt, v => deletedAt ?? v.DeletedAt), cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }
}
