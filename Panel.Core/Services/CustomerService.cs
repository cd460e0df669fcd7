using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Compute;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>A customer in the admin list.</summary>
/// <param name="Id">User id.</param>
/// <param name="Email">Email (the sign-in name).</param>
/// <param name="DisplayName">Shown name.</param>
/// <param name="CreatedAt">Signed up (UTC).</param>
/// <param name="LastSignInAt">Last sign-in (UTC).</param>
/// <param name="LockedUntil">Locked until (UTC), or null; <see cref="DateTimeOffset.MaxValue"/> when an admin locked it.</param>
/// <param name="Servers">VPSes (not deleted).</param>
public sealed record CustomerRow(Guid Id, string Email, string DisplayName, DateTime CreatedAt, DateTime? LastSignInAt, DateTimeOffset? LockedUntil, int Servers);

/// <summary>One of a customer's VPSes on their admin page.</summary>
/// <param name="Id">VPS id.</param>
/// <param name="Hostname">Host name.</param>
/// <param name="Status">Status.</param>
/// <param name="PlanName">Plan.</param>
/// <param name="NodeName">Node, if placed.</param>
/// <param name="CreatedAt">Ordered (UTC).</param>
public sealed record CustomerServerRow(int Id, string Hostname, VpsStatus Status, string PlanName, string? NodeName, DateTime CreatedAt);

/// <summary>A customer's account facts and servers.</summary>
/// <param name="Customer">The list row.</param>
/// <param name="TwoFactorEnabled">Whether two-factor sign-in is on.</param>
/// <param name="FailedSignIns">Wrong passwords since the last sign-in.</param>
/// <param name="ServerList">Their VPSes (deleted ones too, last), newest first.</param>
public sealed record CustomerAccount(CustomerRow Customer, bool TwoFactorEnabled, int FailedSignIns, IReadOnlyList<CustomerServerRow> ServerList);

/// <summary>
/// Customers for admins: search by email, an account's facts and servers, and locking. A lock is Identity's
/// lockout set to the end of time - the sign-in page refuses it like a lockout after wrong passwords - and
/// a new security stamp, so open sessions end at their next check. Admins only; locks are audited.
/// </summary>
public sealed class CustomerService(IDbContextFactory<PanelDbContext> dbFactory, UserManager<PanelUser> users, AuditLog audit, TimeProvider clock)
{
    /// <summary>One page of customers, newest first; <paramref name="search"/> is part of an email. Admins only.</summary>
    public async Task<(int Total, IReadOnlyList<CustomerRow> Rows)> SearchAsync(Actor actor, string? search, int skip, int take, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var q = Customers(db);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = "%" + AuditLog.EscapeLike(search.Trim()) + "%";
            q = q.Where(u => u.Email != null && EF.Functions.ILike(u.Email, pattern));
        }

        var total = await q.CountAsync(cancellationToken);
        var rows = await Rows(db, q.OrderByDescending(u => u.CreatedAt).ThenBy(u => u.Id).Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 200)))
            .ToListAsync(cancellationToken);
        return (total, rows);
    }

    /// <summary>A customer's facts and servers. Admins only.</summary>
    public async Task<CustomerAccount> GetAsync(Actor actor, Guid customerId, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var q = Customers(db).Where(u => u.Id == customerId);
        var row = await Rows(db, q).FirstOrDefaultAsync(cancellationToken) ?? throw new PanelNotFoundException("No such customer.");
        var facts = await q.Select(u => new { u.TwoFactorEnabled, u.AccessFailedCount }).FirstAsync(cancellationToken);
        var servers = await db.Vpses.AsNoTracking().Where(v => v.OwnerId == customerId)
            .OrderBy(v => v.DeletedAt != null).ThenByDescending(v => v.Id)
            .Select(v => new CustomerServerRow(v.Id, v.Hostname, v.Status, v.Plan.Name, v.Node == null ? null : v.Node.Name, v.CreatedAt))
            .Take(500)
            .ToListAsync(cancellationToken);
        return new CustomerAccount(row, facts.TwoFactorEnabled, facts.AccessFailedCount, servers);
    }

    /// <summary>Locks a customer out until an admin unlocks them (their servers keep running). Admins only; audited.</summary>
    public async Task LockAsync(Actor actor, Guid customerId, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        var user = await FindCustomerAsync(customerId);
        await Check(users.SetLockoutEnabledAsync(user, true));
        await Check(users.SetLockoutEndDateAsync(user, DateTimeOffset.MaxValue));
        await Check(users.UpdateSecurityStampAsync(user));
        await audit.RecordAsync(actor, AuditActions.AccountLocked, $"user:{user.Id}", $"locked {user.Email}", cancellationToken);
    }

    /// <summary>Lifts a lock (an admin's or one after wrong passwords). Admins only; audited.</summary>
    public async Task UnlockAsync(Actor actor, Guid customerId, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        var user = await FindCustomerAsync(customerId);
        await Check(users.SetLockoutEndDateAsync(user, null));
        await Check(users.ResetAccessFailedCountAsync(user));
        await audit.RecordAsync(actor, AuditActions.AccountUnlocked, $"user:{user.Id}", $"unlocked {user.Email}", cancellationToken);
    }

    private async Task<PanelUser> FindCustomerAsync(Guid customerId)
    {
        var user = await users.FindByIdAsync(customerId.ToString());
        if (user is null || !await users.IsInRoleAsync(user, Roles.Customer))
        {
            throw new PanelNotFoundException("No such customer.");
        }

        return user;
    }

    private static async Task Check(Task<IdentityResult> result)
    {
        var r = await result;
        if (!r.Succeeded)
        {
            throw new PanelRefusedException(string.Join(" ", r.Errors.Select(e => e.Description)));
        }
    }

    private static IQueryable<PanelUser> Customers(PanelDbContext db)
        => db.Users.AsNoTracking().Where(u => db.UserRoles.Any(r => r.UserId == u.Id && db.Roles.Any(x => x.Id == r.RoleId && x.Name == Roles.Customer)));

    private IQueryable<CustomerRow> Rows(PanelDbContext db, IQueryable<PanelUser> q)
    {
        var now = clock.GetUtcNow();
        return q.Select(u => new CustomerRow(u.Id, u.Email ?? "", u.DisplayName, u.CreatedAt, u.LastSignInAt,
            u.LockoutEnd != null && u.LockoutEnd > now ? u.LockoutEnd : null,
            db.Vpses.Count(v => v.OwnerId == u.Id && v.DeletedAt == null)));
    }
}
