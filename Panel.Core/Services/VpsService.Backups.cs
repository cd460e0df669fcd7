using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Jobs.Vps;

namespace Panel.Core.Services;

/// <summary>A backup as pages list it.</summary>
/// <param name="Id">Its id.</param>
/// <param name="CreatedAt">When (UTC).</param>
/// <param name="SizeBytes">The archive's size.</param>
/// <param name="Consistency">How the disk was made consistent.</param>
public sealed record BackupView(int Id, DateTime CreatedAt, long SizeBytes, string Consistency);

/// <summary>A backup archive to hand to its owner.</summary>
/// <param name="Path">The archive on disk.</param>
/// <param name="FileName">The name to save it as.</param>
/// <param name="SizeBytes">Its size.</param>
public sealed record BackupArchive(string Path, string FileName, long SizeBytes);

/// <summary>Parameters of restore-backup and delete-backup operations.</summary>
/// <param name="BackupId">The backup.</param>
public sealed record BackupParameters(int BackupId);

// Backups and cold migration.
public sealed partial class VpsService
{
    /// <summary>The VPS's backups, newest first.</summary>
    public async Task<IReadOnlyList<BackupView>> BackupsAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.VpsBackups.Where(b => b.VpsId == vpsId).OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id)
            .Select(b => new BackupView(b.Id, b.CreatedAt, b.SizeBytes, b.Consistency)).ToListAsync(cancellationToken);
    }

    /// <summary>
    /// The archive of a backup, for download by the VPS's owner or an admin (audited). Anyone else, an
    /// unknown backup and an archive missing on disk are all "not found".
    /// </summary>
    public async Task<BackupArchive> BackupArchiveAsync(Actor actor, int vpsId, int backupId, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var backup = await db.VpsBackups.AsNoTracking().Where(b => b.Id == backupId && b.VpsId == vpsId)
            .Join(db.Vpses, b => b.VpsId, v => v.Id, (b, v) => new { b.Archive, b.CreatedAt, v.Hostname })
            .FirstOrDefaultAsync(cancellationToken);
        if (backup is null || !File.Exists(backup.Archive))
        {
            throw new PanelNotFoundException($"Server #{vpsId} has no backup #{backupId}.");
        }

        await audit.RecordAsync(actor, Panel.Core.Domain.Audit.AuditActions.BackupDownloaded, $"vps:{vpsId}", $"backup #{backupId}", cancellationToken);
        var name = FormattableString.Invariant($"{backup.Hostname}-backup-{backupId}-{backup.CreatedAt:yyyyMMdd-HHmm}.tar.zst");
        return new BackupArchive(backup.Archive, name, new FileInfo(backup.Archive).Length);
    }

    /// <summary>Takes a backup; beyond the number a VPS keeps, the oldest goes once the new one is safe.</summary>
    public async Task<long> BackupAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        return await RequestAsync(actor, vpsId, OperationKind.Backup, null, cancellationToken);
    }

    /// <summary>Puts the VPS back to a backup (its disk is replaced; snapshots go; it runs afterwards if it ran).</summary>
    public Task<long> RestoreBackupAsync(Actor actor, int vpsId, int backupId, CancellationToken cancellationToken = default)
        => BackupOperationAsync(actor, vpsId, backupId, OperationKind.RestoreBackup, cancellationToken);

    /// <summary>Removes a backup.</summary>
    public Task<long> DeleteBackupAsync(Actor actor, int vpsId, int backupId, CancellationToken cancellationToken = default)
        => BackupOperationAsync(actor, vpsId, backupId, OperationKind.DeleteBackup, cancellationToken);

    /// <summary>
    /// Moves a VPS to another node, stopped for the move (cold migration), keeping its address, MAC,
    /// disk and plan; admins only. Both nodes must share the guest network (the address moves with
    /// the VPS). The target's capacity is held from acceptance on.
    /// </summary>
    public async Task<long> MigrateAsync(Actor actor, int vpsId, int targetNodeId, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        int sourceNodeId;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var vps = await db.Vpses.Include(v => v.Plan).Include(v => v.Image).Include(v => v.Node).AsNoTracking().FirstAsync(v => v.Id == vpsId, cancellationToken);
            var target = await db.Nodes.AsNoTracking().FirstOrDefaultAsync(n => n.Id == targetNodeId, cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            var refusal = vps.Node is null ? null // the state check of the request says why
                : target is null ? $"There is no node #{targetNodeId}."
                : target.Id == vps.Node.Id ? $"{vps.Hostname} is already on node {target.Name}."
                : !target.IsOnline(now) ? $"Node {target.Name} is offline."
                : target.Maintenance ? $"Node {target.Name} is in maintenance."
                : !target.Supports(vps.Plan.Approach) ? $"Node {target.Name} cannot run {vps.Plan.Approach} guests."
                : !target.Images.Contains(vps.Image.Name) ? $"Node {target.Name} does not have the image {vps.Image.Name}."
                : NetworkOf(target) != NetworkOf(vps.Node)
                    ? $"Node {target.Name} is on the guest network {NetworkOf(target) ?? "(none yet)"}, node {vps.Node.Name} on {NetworkOf(vps.Node) ?? "(none yet)"}: a move keeps the server's address, so both nodes must share the guest network."
                : Network6Of(target) != Network6Of(vps.Node)
                    ? $"Node {target.Name} has the IPv6 prefix {Network6Of(target) ?? "(none)"}, node {vps.Node.Name} {Network6Of(vps.Node) ?? "(none)"}: a move keeps the server's addresses, so both nodes must share the guest network."
                : null;
            if (refusal is not null)
            {
                await RefuseAsync(actor, vpsId, OperationKind.Migrate, refusal, cancellationToken, "TargetNodeId");
            }

            sourceNodeId = vps.NodeId ?? 0;
        }

        var parameters = JsonSerializer.Serialize(new MigrateParameters(sourceNodeId, targetNodeId));
        return await RequestAsync(actor, vpsId, OperationKind.Migrate, parameters, async (db, vps, ct) =>
        {
            // Under the node lock that placement takes too: concurrent orders and moves see this hold.
            var nodes = await db.Nodes.FromSql($"SELECT * FROM nodes ORDER BY id FOR UPDATE").ToListAsync(ct);
            var target = nodes.First(n => n.Id == targetNodeId);
            var used = (await UsedByNodeAsync(db, null, ct)).GetValueOrDefault(targetNodeId);
            if (!HasRoom(target, used, vps.Vcpus, vps.MemoryBytes, vps.DiskBytes))
            {
                return $"Node {target.Name} has no room for {vps.Hostname} right now.";
            }

            await db.Vpses.Where(v => v.Id == vps.Id).ExecuteUpdateAsync(s => s.SetProperty(v => v.MigrationTargetNodeId, targetNodeId), ct);
            return null;
        }, cancellationToken);
    }

    private async Task<long> BackupOperationAsync(Actor actor, int vpsId, int backupId, OperationKind kind, CancellationToken cancellationToken)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            if (!await db.VpsBackups.AnyAsync(b => b.Id == backupId && b.VpsId == vpsId, cancellationToken))
            {
                await RefuseAsync(actor, vpsId, kind, $"Server #{vpsId} has no backup #{backupId}.", cancellationToken, "BackupId");
            }
        }

        return await RequestAsync(actor, vpsId, kind, JsonSerializer.Serialize(new BackupParameters(backupId)), cancellationToken);
    }
}
