using Hangfire;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Persistence;
using Panel.Hypervisor;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Services;

/// <summary>Figures for the admin dashboard.</summary>
public sealed record AdminOverview(
    int Customers,
    int Admins,
    int LockedAccounts,
    int SignUpsLast7Days,
    JobFigures Jobs,
    HostFacts Host,
    IReadOnlyList<DriverInfo> Drivers,
    IReadOnlyList<NodeView> Nodes,
    IReadOnlyList<AuditEvent> RecentEvents)
{
    /// <summary>The latest failed operations (recent errors), newest first.</summary>
    public IReadOnlyList<AdminOperationRow> RecentErrors { get; init; } = [];

    /// <summary>VPSes by status (not deleted).</summary>
    public IReadOnlyDictionary<Panel.Core.Domain.Compute.VpsStatus, int> ServersByStatus { get; init; } = new Dictionary<Panel.Core.Domain.Compute.VpsStatus, int>();
}

/// <summary>Hangfire's counters, read from its storage.</summary>
public sealed record JobFigures(long Enqueued, long Processing, long Scheduled, long Succeeded, long Failed, int Servers);

/// <summary>Figures for a customer's home page.</summary>
public sealed record CustomerOverview(
    string DisplayName,
    bool TwoFactorEnabled,
    DateTime? LastSignInAt,
    IReadOnlyList<AuditEvent> RecentActivity);

/// <summary>Read-only queries behind the two home pages.</summary>
public sealed class DashboardService(IDbContextFactory<PanelDbContext> dbFactory, JobStorage jobs, AuditLog audit, DriverRegistry drivers, NodeService nodes, VpsService vpses, TimeProvider clock)
{
    /// <summary>The admin overview; refuses non-admins.</summary>
    public async Task<AdminOverview> GetAdminOverviewAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only admins can see the admin overview.");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var weekAgo = now.AddDays(-7);

        var roleIds = await db.Roles.AsNoTracking().ToDictionaryAsync(r => r.Name!, r => r.Id, cancellationToken);
        var adminRole = roleIds.GetValueOrDefault(Roles.Admin);
        var customerRole = roleIds.GetValueOrDefault(Roles.Customer);
        var customers = await db.UserRoles.CountAsync(r => r.RoleId == customerRole, cancellationToken);
        var admins = await db.UserRoles.CountAsync(r => r.RoleId == adminRole, cancellationToken);
        var locked = await db.Users.CountAsync(u => u.LockoutEnd != null && u.LockoutEnd > DateTimeOffset.UtcNow, cancellationToken);
        var signUps = await db.Users.CountAsync(u => u.CreatedAt >= weekAgo && db.UserRoles.Any(r => r.UserId == u.Id && r.RoleId == customerRole), cancellationToken);

        var stats = jobs.GetMonitoringApi().GetStatistics();
        var figures = new JobFigures(stats.Enqueued, stats.Processing, stats.Scheduled, stats.Succeeded, stats.Failed, (int)stats.Servers);
        var recent = await audit.RecentAsync(actor, 10, cancellationToken);
        var probes = await drivers.ProbeAllAsync(cancellationToken: cancellationToken);
        var nodeViews = await nodes.ListAsync(actor, cancellationToken);
        var (_, errors) = await vpses.SearchOperationsAsync(actor, new OperationQuery(Status: Panel.Core.Domain.Operations.OperationStatus.Failed, Take: 5), cancellationToken);
        var byStatus = await db.Vpses.Where(v => v.DeletedAt == null).GroupBy(v => v.Status).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);
        return new AdminOverview(customers, admins, locked, signUps, figures, HostProbe.Read(), probes, nodeViews, recent)
        {
            RecentErrors = errors,
            ServersByStatus = byStatus,
        };
    }

    /// <summary>The signed-in customer's own overview.</summary>
    public async Task<CustomerOverview> GetCustomerOverviewAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (actor.UserId is not { } id)
        {
            throw new UnauthorizedAccessException("Sign in to see your overview.");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == id, cancellationToken)
            ?? throw new UnauthorizedAccessException("The account no longer exists.");
        var recent = await audit.RecentAsync(actor with { IsAdmin = false }, 5, cancellationToken);
        return new CustomerOverview(user.DisplayName, user.TwoFactorEnabled, user.LastSignInAt, recent);
    }
}
