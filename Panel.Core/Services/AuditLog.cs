using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>Writes and reads the append-only audit log.</summary>
public sealed class AuditLog(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Refuses anyone but an admin, recording the refused attempt as <paramref name="action"/> first.</summary>
    public async Task RequireAdminAsync(Actor actor, string action, string target, string what, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (!actor.IsAdmin)
        {
            await RecordAsync(actor, action, target, what + ": only admins can do this", cancellationToken);
            Require.Admin(actor);
        }
    }

    /// <summary>Appends one event.</summary>
    public async Task RecordAsync(Actor actor, string action, string? target = null, string? details = null, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        Add(db, actor, action, target, details);
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Adds one event to the caller's context: it is saved with the caller's changes, in the caller's transaction.</summary>
    public void Add(PanelDbContext db, Actor actor, string action, string? target = null, string? details = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(actor);
        db.AuditEvents.Add(new AuditEvent
        {
            At = clock.GetUtcNow().UtcDateTime,
            ActorId = actor.UserId,
            Actor = Truncate(actor.Name, 256),
            Action = action,
            Target = target,
            Details = details is null ? null : Truncate(details, 2000),
            IpAddress = actor.IpAddress,
        });
    }

    /// <summary>The newest events: all of them for an admin, only the user's own for anyone else.</summary>
    public async Task<IReadOnlyList<AuditEvent>> RecentAsync(Actor viewer, int count, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(viewer);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var query = db.AuditEvents.AsNoTracking();
        if (!viewer.IsAdmin)
        {
            query = query.Where(e => e.ActorId == viewer.UserId);
        }

        return await query.OrderByDescending(e => e.At).ThenByDescending(e => e.Id)
            .Take(Math.Clamp(count, 1, 500)).ToListAsync(cancellationToken);
    }

    /// <summary>
    /// A page of the log, newest first, for admins: <paramref name="search"/> matches the actor, the
    /// action, the target or the details (case-insensitive).
    /// </summary>
    public async Task<(int Total, IReadOnlyList<AuditEvent> Rows)> SearchAsync(Actor viewer, string? search, int skip, int take, CancellationToken cancellationToken = default)
    {
        Require.Admin(viewer);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var query = db.AuditEvents.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = "%" + EscapeLike(search.Trim()) + "%";
            query = query.Where(e => EF.Functions.ILike(e.Actor, pattern) || EF.Functions.ILike(e.Action, pattern)
                                     || (e.Target != null && EF.Functions.ILike(e.Target, pattern)) || (e.Details != null && EF.Functions.ILike(e.Details, pattern)));
        }

        var total = await query.CountAsync(cancellationToken);
        var rows = await query.OrderByDescending(e => e.At).ThenByDescending(e => e.Id)
            .Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 200)).ToListAsync(cancellationToken);
        return (total, rows);
    }

    /// <summary>A page of the caller's own events ("my activity"), newest first; anyone signed in, only their own.</summary>
    public async Task<(int Total, IReadOnlyList<AuditEvent> Rows)> MineAsync(Actor viewer, int skip, int take, CancellationToken cancellationToken = default)
    {
        var me = Require.User(viewer);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var query = db.AuditEvents.AsNoTracking().Where(e => e.ActorId == me);
        var total = await query.CountAsync(cancellationToken);
        var rows = await query.OrderByDescending(e => e.At).ThenByDescending(e => e.Id)
            .Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 200)).ToListAsync(cancellationToken);
        return (total, rows);
    }

    /// <summary>Escapes LIKE's wildcards (the default escape character is the backslash).</summary>
    internal static string EscapeLike(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
