using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Persistence;

namespace Panel.Core.Hosting;

/// <summary>
/// Brings a hosting space's running container in line with the database: SFTP access (the tenant's saved SSH
/// keys and password hash) and every site's server. Run after each change (content, sites, keys, password) and
/// when the container's provisioning or start succeeds, so a new or re-created container gets it all back.
/// Idempotent: running it twice changes nothing more.
/// </summary>
public sealed class HostingSync(IDbContextFactory<PanelDbContext> dbFactory, HostingRuntime runtime)
{
    // One sync at a time per space in this process (a key change may meet the end of a provisioning): each reads the
    // database when its turn comes, so the last one writes the latest state.
    private readonly ConcurrentDictionary<int, SemaphoreSlim> turns = new();

    /// <summary>Syncs the space when its container runs (<paramref name="servers"/>: the site servers too, restarted); returns false (doing nothing) when it does not run.</summary>
    public Task<bool> SyncSpaceAsync(int spaceId, bool servers = true, CancellationToken cancellationToken = default)
        => SyncSpaceAsync(spaceId, servers, containerStarted: false, cancellationToken);

    private async Task<bool> SyncSpaceAsync(int spaceId, bool servers, bool containerStarted, CancellationToken cancellationToken)
    {
        var turn = turns.GetOrAdd(spaceId, _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync(cancellationToken);
        try
        {
            return await SyncNowAsync(spaceId, servers, containerStarted, cancellationToken);
        }
        finally
        {
            turn.Release();
        }
    }

    private async Task<bool> SyncNowAsync(int spaceId, bool servers, bool containerStarted, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var space = await db.HostingSpaces.AsNoTracking().Where(s => s.Id == spaceId)
            .Select(s => new { s.OwnerId, s.SftpPasswordHash, Vps = s.Vps == null ? null : new { s.Vps.Status, s.Vps.EngineId, Node = s.Vps.Node == null ? null : s.Vps.Node.Name } })
            .FirstOrDefaultAsync(cancellationToken);
        // containerStarted: the operation that started the container runs this before it records Running.
        if (space?.Vps is not { } vps || (vps.Status != VpsStatus.Running && !containerStarted))
        {
            return false;
        }

        runtime.RequireLocal(vps.Node);
        var keys = await db.SshKeys.AsNoTracking().Where(k => k.OwnerId == space.OwnerId).OrderBy(k => k.Id).Select(k => k.PublicKey).ToListAsync(cancellationToken);
        var sites = await db.Sites.AsNoTracking().Where(s => s.SpaceId == spaceId).OrderBy(s => s.Id)
            .Select(s => new RuntimeSite(s.Id, s.Port, s.Kind, s.Command)).ToListAsync(cancellationToken);
        await runtime.SyncAccessAsync(vps.EngineId, keys, space.SftpPasswordHash, cancellationToken);
        if (servers)
        {
            await runtime.SyncAsync(vps.EngineId, sites, cancellationToken);
        }

        return true;
    }

    /// <summary>Syncs the SFTP access of the owner's space, if they have one whose container runs (their SSH keys changed).</summary>
    public async Task<bool> SyncOwnerAsync(Guid ownerId, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var spaceId = await db.HostingSpaces.Where(s => s.OwnerId == ownerId).Select(s => (int?)s.Id).FirstOrDefaultAsync(cancellationToken);
        return spaceId is { } id && await SyncSpaceAsync(id, servers: false, cancellationToken);
    }

    /// <summary>The hosting space this VPS is the container of, or null when it is no hosting container.</summary>
    public async Task<int?> SpaceOfContainerAsync(int vpsId, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.HostingSpaces.Where(s => s.VpsId == vpsId).Select(s => (int?)s.Id).FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>
    /// Syncs a space whose container a provisioning, start or restore has just brought up: the operation runs this
    /// before it records the container Running, so whoever sees Running finds the space's access and servers in place.
    /// </summary>
    public Task<bool> SyncStartedSpaceAsync(int spaceId, CancellationToken cancellationToken = default)
        => SyncSpaceAsync(spaceId, servers: true, containerStarted: true, cancellationToken);
}
