using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Nodes;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>A node as admins see it.</summary>
/// <param name="Name">The node's name.</param>
/// <param name="Hostname">Its host name.</param>
/// <param name="Online">Whether it reported recently.</param>
/// <param name="Maintenance">Whether it is drained.</param>
/// <param name="LastHeartbeatAt">Its last report (UTC).</param>
/// <param name="CpuCount">CPUs.</param>
/// <param name="MemoryBytes">Memory.</param>
/// <param name="DiskBytes">Disk space for VPSes.</param>
/// <param name="Drivers">Driver status.</param>
public sealed record NodeView(string Name, string Hostname, bool Online, bool Maintenance, DateTime LastHeartbeatAt, int CpuCount, long MemoryBytes, long DiskBytes, IReadOnlyList<NodeDriver> Drivers);

/// <summary>Admin use cases on nodes.</summary>
public sealed class NodeService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock)
{
    /// <summary>Every node, by name. Admins only.</summary>
    public async Task<IReadOnlyList<NodeView>> ListAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        RequireAdmin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var nodes = await db.Nodes.AsNoTracking().OrderBy(n => n.Name).ToListAsync(cancellationToken);
        return nodes.Select(n => new NodeView(n.Name, n.Hostname, n.IsOnline(now), n.Maintenance, n.LastHeartbeatAt, n.CpuCount, n.MemoryBytes, n.DiskBytes, n.Drivers)).ToList();
    }

    /// <summary>Drains a node (no new VPSes) or puts it back in service. Admins only; audited.</summary>
    public async Task SetMaintenanceAsync(Actor actor, string name, bool maintenance, CancellationToken cancellationToken = default)
    {
        RequireAdmin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var changed = await db.Nodes.Where(n => n.Name == name)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.Maintenance, maintenance), cancellationToken);
        if (changed == 0)
        {
            throw new KeyNotFoundException($"no node '{name}'");
        }

        await audit.RecordAsync(actor, AuditActions.NodeMaintenance, $"node:{name}", maintenance ? "maintenance on" : "maintenance off", cancellationToken);
    }

    private static void RequireAdmin(Actor actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only admins can see and change nodes.");
        }
    }
}
