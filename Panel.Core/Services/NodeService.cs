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
public sealed record NodeView(string Name, string Hostname, bool Online, bool Maintenance, DateTime LastHeartbeatAt, int CpuCount, long MemoryBytes, long DiskBytes, IReadOnlyList<NodeDriver> Drivers)
{
    /// <summary>Database id.</summary>
    public int Id { get; init; }

    /// <summary>What its VPSes (and VPSes moving to it) were given.</summary>
    public NodeUse Allocated { get; init; } = new(0, 0, 0);

    /// <summary>Its VPSes (not deleted).</summary>
    public int Servers { get; init; }

    /// <summary>Overcommit ratios: CPU, memory, disk.</summary>
    public (decimal Cpu, decimal Memory, decimal Disk) Overcommit { get; init; }

    /// <summary>Its guest networks (IPv4, and IPv6 or null).</summary>
    public (string V4, string? V6) GuestNetworks { get; init; }

    /// <summary>The images it has.</summary>
    public IReadOnlyList<string> Images { get; init; } = [];

    /// <summary>How many vCPUs may be given out.</summary>
    public decimal CpuCapacity => CpuCount * Overcommit.Cpu;

    /// <summary>How much memory may be given out.</summary>
    public decimal MemoryCapacity => MemoryBytes * Overcommit.Memory;

    /// <summary>How much disk may be given out.</summary>
    public decimal DiskCapacity => DiskBytes * Overcommit.Disk;
}

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
        var used = await VpsService.UsedByNodeAsync(db, null, cancellationToken);
        var counts = await db.Vpses.Where(v => v.NodeId != null && v.DeletedAt == null).GroupBy(v => v.NodeId!.Value)
            .Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);
        return nodes.Select(n => new NodeView(n.Name, n.Hostname, n.IsOnline(now), n.Maintenance, n.LastHeartbeatAt, n.CpuCount, n.MemoryBytes, n.DiskBytes, n.Drivers)
        {
            Id = n.Id,
            Allocated = used.GetValueOrDefault(n.Id) ?? new NodeUse(0, 0, 0),
            Servers = counts.GetValueOrDefault(n.Id),
            Overcommit = (n.CpuOvercommit, n.MemoryOvercommit, n.DiskOvercommit),
            GuestNetworks = (VpsService.NetworkOf(n) ?? "", VpsService.Network6Of(n)),
            Images = n.Images,
        }).ToList();
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
