using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>Writes and reads the append-only audit log.</summary>
public sealed class AuditLog(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Appends one event.</summary>
    public async Task RecordAsync(Actor actor, string action, string? target = null, string? details = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
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
        await db.SaveChangesAsync(cancellationToken);
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

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
