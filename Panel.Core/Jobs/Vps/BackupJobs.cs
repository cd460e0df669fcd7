using Hangfire;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor.Backups;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Jobs.Vps;

/// <summary>
/// Where backups live: <c>ROOT/vps-ID/op-OPERATION/ENGINEID-….tar.zst</c>. One folder per operation
/// makes a cut backup harmless: the next attempt empties its folder and starts again, and a failed
/// one removes it.
/// </summary>
public sealed class BackupFolders(PanelOptions options)
{
    /// <summary>The root every node reaches.</summary>
    public string Root => options.Backups.Directory ?? options.Engine.BackupsDirectory;

    /// <summary>The folder of one VPS's backups.</summary>
    public string ForVps(int vpsId) => Path.Combine(Root, $"vps-{vpsId}");

    /// <summary>The folder an operation writes into.</summary>
    public string ForOperation(int vpsId, long operationId) => Path.Combine(ForVps(vpsId), $"op-{operationId}");

    /// <summary>An empty folder for an operation (what an earlier, cut attempt wrote is removed).</summary>
    public string Fresh(int vpsId, long operationId)
    {
        var dir = ForOperation(vpsId, operationId);
        RemoveFolder(dir);
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    /// <summary>Removes an archive's folder (the archive, its checksum, anything a cut write left).</summary>
    public void RemoveArchive(string archive)
    {
        var dir = Path.GetDirectoryName(archive);
        if (dir is not null && dir.StartsWith(Root.TrimEnd('/') + "/", StringComparison.Ordinal) && Path.GetFileName(dir).StartsWith("op-", StringComparison.Ordinal))
        {
            RemoveFolder(dir);
        }
        else
        {
            File.Delete(archive);
            File.Delete(archive + ".sha256");
        }
    }

    /// <summary>Removes a folder if it is there.</summary>
    public static void RemoveFolder(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Takes a backup (running or stopped, as the driver allows), records it and keeps the newest <see cref="BackupsOptions.KeepPerVps"/>.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class BackupJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory, InstanceBackups backups, BackupFolders folders, PanelOptions options, TimeProvider clock)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Backup (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var made = await db.VpsBackups.AsNoTracking().FirstOrDefaultAsync(b => b.OperationId == operationId, ct);
            if (made is null)
            {
                var folder = folders.Fresh(ctx.Vps.Id, operationId);
                await ctx.ReportAsync(20, "writing the backup archive");
                var result = await backups.BackupAsync(ctx.Driver, new BackupOptions(ctx.Vps.EngineId, folder), ct);
                made = new VpsBackup
                {
                    VpsId = ctx.Vps.Id,
                    Archive = result.Archive,
                    SizeBytes = result.SizeBytes,
                    Consistency = result.Manifest.Consistency,
                    OperationId = operationId,
                    CreatedAt = clock.GetUtcNow().UtcDateTime,
                };
                db.VpsBackups.Add(made);
                await db.SaveChangesAsync(ct);
            }

            // Rotation: the newest ones stay.
            var old = await db.VpsBackups.Where(b => b.VpsId == ctx.Vps.Id).OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id)
                .Skip(Math.Max(1, options.Backups.KeepPerVps)).ToListAsync(ct);
            foreach (var b in old)
            {
                folders.RemoveArchive(b.Archive);
                db.VpsBackups.Remove(b);
            }

            await db.SaveChangesAsync(ct);
            var rotated = old.Count > 0 ? $"; {old.Count} older removed" : "";
            return new OperationOutcome(await ctx.ObservedAsync(ct), string.Create(System.Globalization.CultureInfo.InvariantCulture, $"backup taken ({made.SizeBytes / 1048576.0:0.#} MiB, {made.Consistency}){rotated}"), RestoreJob.Suspension(ctx));
        }, onFailure: async (ctx, _, _) =>
        {
            BackupFolders.RemoveFolder(folders.ForOperation(ctx.Vps.Id, operationId));
            return await ctx.ObservedAsync(CancellationToken.None);
        }, cancellationToken);
}

/// <summary>Puts a VPS back to one of its backups (the archive is verified before anything changes); it runs afterwards if it should.</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class RestoreBackupJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory, InstanceBackups backups)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Restore backup (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var backupId = OperationRunner.Parameters<BackupParameters>(ctx.Operation).BackupId;
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var backup = await db.VpsBackups.AsNoTracking().FirstOrDefaultAsync(b => b.Id == backupId && b.VpsId == ctx.Vps.Id, ct)
                ?? throw new PanelRefusedException("That backup no longer exists.");
            await ctx.ReportAsync(10, "verifying the archive");
            await backups.VerifyAsync(backup.Archive, ct);
            var start = ctx.Vps.ShouldRun && ctx.Vps.Status != VpsStatus.Suspended;
            await ctx.ReportAsync(30, "stopping");
            await ctx.Driver.StopAsync(new StopOptions(ctx.Vps.EngineId), ct);
            await ctx.ReportAsync(50, $"restoring the backup of {backup.CreatedAt:yyyy-MM-dd HH:mm} UTC");
            await backups.RestoreAsync(new RestoreOptions(backup.Archive, Start: false), ct);
            // The backup holds the limits of its day; the VPS keeps its plan of today.
            var spec = ctx.Spec(GuestAccess.None);
            await ctx.Driver.UpdateLimitsAsync(new UpdateLimitsOptions(spec.Id, spec.Limits), ct);
            await db.VpsSnapshots.Where(s => s.VpsId == ctx.Vps.Id).ExecuteDeleteAsync(ct); // the restored disk has none of them
            if (start)
            {
                await ctx.ReportAsync(85, "starting");
                await ctx.Driver.StartAsync(new StartOptions(spec.Id), ct);
            }

            return new OperationOutcome(await ctx.ObservedAsync(ct), $"restored the backup of {backup.CreatedAt:yyyy-MM-dd HH:mm} UTC", RestoreJob.Suspension(ctx));
        }, onFailure: null, cancellationToken);
}

/// <summary>Removes a backup (its archive and its row).</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class DeleteBackupJob(OperationRunner runner, IDbContextFactory<PanelDbContext> dbFactory, BackupFolders folders)
{
    /// <summary>Runs the operation.</summary>
    [JobDisplayName("Delete backup (operation {0})")]
    public Task RunAsync(long operationId, CancellationToken cancellationToken)
        => runner.RunAsync(operationId, async (ctx, ct) =>
        {
            var backupId = OperationRunner.Parameters<BackupParameters>(ctx.Operation).BackupId;
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var backup = await db.VpsBackups.FirstOrDefaultAsync(b => b.Id == backupId && b.VpsId == ctx.Vps.Id, ct);
            if (backup is not null)
            {
                await ctx.ReportAsync(40, "removing the archive");
                folders.RemoveArchive(backup.Archive);
                db.VpsBackups.Remove(backup);
                await db.SaveChangesAsync(ct);
            }

            return new OperationOutcome(await ctx.ObservedAsync(ct), "backup deleted", RestoreJob.Suspension(ctx));
        }, onFailure: null, cancellationToken);
}
