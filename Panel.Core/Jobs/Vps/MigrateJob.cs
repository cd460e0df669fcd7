using System.Globalization;
using System.Text.Json;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Backups;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Jobs.Vps;

/// <summary>Parameters (and progress) of a cold migration.</summary>
/// <param name="SourceNodeId">Where the VPS was.</param>
/// <param name="TargetNodeId">Where it goes.</param>
/// <param name="Phase"><c>export</c> (source), <c>import</c> (target), <c>cleanup</c> (source), <c>start</c> (target); <c>rollback</c> (source) when the import failed.</param>
/// <param name="Archive">The hand-over archive, once exported.</param>
/// <param name="Error">Why the import failed (rollback).</param>
public sealed record MigrateParameters(int SourceNodeId, int TargetNodeId, string Phase = MigrateJob.Export, string? Archive = null, string? Error = null);

/// <summary>
/// Cold migration, one operation in phases that run on the node they concern: on the source the
/// guest stops and its disks are exported into the shared backups folder; on the target they are
/// imported (same engine id, address and MAC) and the VPS row moves; back on the source the old copy
/// and the archive go; then the guest starts on the target (after the old copy is gone, so nothing
/// of it - a port's rules on a machine that runs both nodes - outlives it). If the target cannot
/// take it, the target's half-made copy goes and the source starts the guest again. Each phase is recorded in
/// the operation's parameters before the next is dispatched, so a crash anywhere resumes the right
/// phase on the right node, and the VPS is held (one operation at a time) throughout.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class MigrateJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory, InstanceBackups backups, BackupFolders folders)
{
    /// <summary>Phase names.</summary>
    public const string Export = "export", Import = "import", Cleanup = "cleanup", Start = "start", Rollback = "rollback";

    /// <summary>Runs the operation's current phase.</summary>
    [JobDisplayName("Migrate (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var p = OperationRunner.Parameters<MigrateParameters>(ctx.Operation);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var names = await db.Nodes.Where(n => n.Id == p.SourceNodeId || n.Id == p.TargetNodeId).ToDictionaryAsync(n => n.Id, n => n.Name, ct);
            string source = names.GetValueOrDefault(p.SourceNodeId, "?"), target = names.GetValueOrDefault(p.TargetNodeId, "?");
            var shouldRun = ctx.Vps.ShouldRun && ctx.Vps.Status != VpsStatus.Suspended;
            switch (p.Phase)
            {
                case Export:
                {
                    await ctx.ReportAsync(10, $"stopping on node {source}");
                    await ctx.Driver.StopAsync(new StopOptions(ctx.Vps.EngineId), ct);
                    var folder = folders.Fresh(ctx.Vps.Id, operationId);
                    await ctx.ReportAsync(25, "exporting the disk");
                    var result = await backups.BackupAsync(ctx.Driver, new BackupOptions(ctx.Vps.EngineId, folder), ct);
                    await SaveAsync(db, operationId, p with { Phase = Import, Archive = result.Archive }, ct);
                    return new OperationOutcome(VpsStatus.Stopped, string.Create(CultureInfo.InvariantCulture,
                        $"exported ({result.SizeBytes / 1048576.0:0.#} MiB); handing over to node {target}"), ContinueOnNodeId: p.TargetNodeId);
                }

                case Import:
                    try
                    {
                        if (await ctx.ExistsAsync(ct))
                        {
                            await ctx.Driver.DeleteAsync(new DeleteOptions(ctx.Vps.EngineId, Force: true), ct); // what a cut attempt left
                        }

                        await ctx.ReportAsync(50, $"importing on node {target}");
                        await backups.RestoreAsync(new RestoreOptions(p.Archive!, Start: false), ct);

                        // The VPS lives on the target from here on; the source's copy is only a leftover.
                        await using (var tx = await db.Database.BeginTransactionAsync(ct))
                        {
                            await db.Vpses.Where(v => v.Id == ctx.Vps.Id).ExecuteUpdateAsync(s => s
                                .SetProperty(v => v.NodeId, p.TargetNodeId)
                                .SetProperty(v => v.MigrationTargetNodeId, (int?)null), ct);
                            await SaveAsync(db, operationId, p with { Phase = Cleanup }, ct);
                            await tx.CommitAsync(ct);
                        }

                        return new OperationOutcome(VpsStatus.Stopped, $"in place on node {target}; removing the copy on node {source}", ContinueOnNodeId: p.SourceNodeId);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        var reason = OperationRunner.Readable(ex);
                        await ctx.ReportAsync(60, $"node {target} could not take it: {reason}; going back to node {source}");
                        try
                        {
                            await ctx.Driver.DeleteAsync(new DeleteOptions(ctx.Vps.EngineId, Force: true), CancellationToken.None);
                        }
                        catch (EngineException)
                        {
                            // Reconciliation removes a leftover copy of a VPS that lives elsewhere.
                        }

                        await SaveAsync(db, operationId, p with { Phase = Rollback, Error = reason }, CancellationToken.None);
                        return new OperationOutcome(VpsStatus.Stopped, "going back", ContinueOnNodeId: p.SourceNodeId);
                    }

                case Cleanup:
                {
                    await ctx.ReportAsync(90, $"removing the copy on node {source}");
                    await ctx.Driver.DeleteAsync(new DeleteOptions(ctx.Vps.EngineId, Force: true), ct);
                    await db.VpsSnapshots.Where(s => s.VpsId == ctx.Vps.Id).ExecuteDeleteAsync(ct); // snapshots stay behind with the old copy
                    BackupFolders.RemoveFolder(folders.ForOperation(ctx.Vps.Id, operationId));
                    if (shouldRun)
                    {
                        // Started only now: the old copy is gone, with everything it held on the host.
                        await SaveAsync(db, operationId, p with { Phase = Start }, ct);
                        return new OperationOutcome(VpsStatus.Stopped, $"old copy removed; starting on node {target}", ContinueOnNodeId: p.TargetNodeId);
                    }

                    var status = ctx.Vps.Status == VpsStatus.Suspended ? VpsStatus.Suspended : VpsStatus.Stopped;
                    return new OperationOutcome(status, $"moved from node {source} to node {target}", RestoreJob.Suspension(ctx));
                }

                case Start:
                    await ctx.ReportAsync(95, $"starting on node {target}");
                    await ctx.Driver.StartAsync(new StartOptions(ctx.Vps.EngineId), ct);
                    return new OperationOutcome(VpsStatus.Running, $"moved from node {source} to node {target}, running");

                case Rollback:
                    throw new PanelRefusedException($"The move to node {target} failed ({p.Error}); the server stays on node {source}.");

                default:
                    throw new InvalidOperationException($"unknown migration phase '{p.Phase}'");
            }
        }, onFailure: async (ctx, _, ct) =>
        {
            // Export failed, or the target sent it back: the guest stays on the source, as it was. In the
            // later phases the VPS already lives on the target: only record what is true.
            var p = OperationRunner.Parameters<MigrateParameters>(ctx.Operation);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            await db.Vpses.Where(v => v.Id == ctx.Vps.Id).ExecuteUpdateAsync(s => s.SetProperty(v => v.MigrationTargetNodeId, (int?)null), ct);
            BackupFolders.RemoveFolder(folders.ForOperation(ctx.Vps.Id, ctx.Operation.Id));
            if (p.Phase is Export or Rollback && ctx.Vps.ShouldRun && ctx.Vps.Status != VpsStatus.Suspended)
            {
                await ctx.Driver.StartAsync(new StartOptions(ctx.Vps.EngineId), ct);
            }

            return ctx.Vps.Status == VpsStatus.Suspended ? VpsStatus.Suspended
                : p.Phase == Cleanup ? VpsStatus.Stopped // it lives on the target, stopped; reconciliation starts it and removes the leftover here
                : await ctx.ObservedAsync(ct);
        }, cancellationToken);

    private static Task<int> SaveAsync(PanelDbContext db, long operationId, MigrateParameters p, CancellationToken ct)
    {
        var json = JsonSerializer.Serialize(p);
        return db.Operations.Where(o => o.Id == operationId).ExecuteUpdateAsync(s => s.SetProperty(o => o.Parameters, json), ct);
    }
}
