using System.Net;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;

namespace Panel.Core.Services;

/// <summary>How the admin list of VPSes is sorted.</summary>
public enum VpsSort
{
    /// <summary>Newest first (by id).</summary>
    Newest,

    /// <summary>By host name.</summary>
    Hostname,

    /// <summary>By status.</summary>
    Status,

    /// <summary>By node.</summary>
    Node,

    /// <summary>By owner's email.</summary>
    Owner,
}

/// <summary>A query of the admin list of VPSes.</summary>
/// <param name="Search">Part of a host name or owner email, an engine id, or an exact address.</param>
/// <param name="Status">Only this status.</param>
/// <param name="Node">Only this node (by name).</param>
/// <param name="Sort">Order.</param>
/// <param name="Descending">Reverse the order.</param>
/// <param name="Skip">Rows to skip.</param>
/// <param name="Take">Rows to return (1-200).</param>
public sealed record VpsQuery(string? Search = null, VpsStatus? Status = null, string? Node = null, VpsSort Sort = VpsSort.Newest, bool Descending = false, int Skip = 0, int Take = 25);

/// <summary>A row of the admin list.</summary>
/// <param name="Id">VPS id.</param>
/// <param name="Hostname">Host name.</param>
/// <param name="Status">Status.</param>
/// <param name="PlanName">Plan.</param>
/// <param name="NodeName">Node, if placed.</param>
/// <param name="Addresses">Addresses.</param>
/// <param name="OwnerEmail">The customer.</param>
/// <param name="Busy">Whether an operation holds it.</param>
/// <param name="CreatedAt">When ordered (UTC).</param>
public sealed record AdminVpsRow(int Id, string Hostname, VpsStatus Status, string PlanName, string? NodeName, IReadOnlyList<string> Addresses, string OwnerEmail, bool Busy, DateTime CreatedAt);

/// <summary>A query of the admin list of operations.</summary>
/// <param name="Status">Only this status.</param>
/// <param name="Kind">Only this kind.</param>
/// <param name="Node">Only this node (by name).</param>
/// <param name="FailedFirst">Failed ones before the rest (each part newest first).</param>
/// <param name="Skip">Rows to skip.</param>
/// <param name="Take">Rows to return (1-200).</param>
public sealed record OperationQuery(OperationStatus? Status = null, OperationKind? Kind = null, string? Node = null, bool FailedFirst = false, int Skip = 0, int Take = 25);

/// <summary>A row of the admin list of operations.</summary>
/// <param name="Id">Operation id.</param>
/// <param name="VpsId">The VPS, if one exists.</param>
/// <param name="Hostname">Its host name.</param>
/// <param name="NodeName">The node its job runs on.</param>
/// <param name="Kind">What.</param>
/// <param name="Status">Where it is.</param>
/// <param name="Progress">0-100.</param>
/// <param name="Step">Current or last step.</param>
/// <param name="Error">Why it failed or was refused.</param>
/// <param name="ActorName">Who asked.</param>
/// <param name="CreatedAt">Asked (UTC).</param>
/// <param name="FinishedAt">Ended (UTC).</param>
public sealed record AdminOperationRow(long Id, int? VpsId, string? Hostname, string? NodeName, OperationKind Kind, OperationStatus Status, int Progress, string? Step, string? Error, string ActorName, DateTime CreatedAt, DateTime? FinishedAt);

// The admin lists: every tenant's VPSes, paged, filtered and sorted in the database.
public sealed partial class VpsService
{
    /// <summary>One page of every customer's VPSes (deleted ones only when asked for by status). Admins only.</summary>
    public async Task<(int Total, IReadOnlyList<AdminVpsRow> Rows)> SearchAsync(Actor actor, VpsQuery query, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        ArgumentNullException.ThrowIfNull(query);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var q = db.Vpses.AsNoTracking();
        q = query.Status is { } status ? q.Where(v => v.Status == status) : q.Where(v => v.DeletedAt == null);
        if (!string.IsNullOrWhiteSpace(query.Node))
        {
            q = q.Where(v => v.Node != null && v.Node.Name == query.Node);
        }

        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            var text = query.Search.Trim();
            if (IPAddress.TryParse(text, out var ip))
            {
                q = q.Where(v => v.Addresses.Any(a => a.Address == ip));
            }
            else
            {
                var pattern = "%" + AuditLog.EscapeLike(text) + "%";
                q = q.Where(v => EF.Functions.ILike(v.Hostname, pattern) || v.EngineId == text
                                 || db.Users.Any(u => u.Id == v.OwnerId && u.Email != null && EF.Functions.ILike(u.Email, pattern)));
            }
        }

        var total = await q.CountAsync(cancellationToken);
        var rows = q.Select(v => new
        {
            v.Id,
            v.Hostname,
            v.Status,
            Plan = v.Plan.Name,
            Node = v.Node == null ? null : v.Node.Name,
            Owner = db.Users.Where(u => u.Id == v.OwnerId).Select(u => u.Email).FirstOrDefault() ?? "",
            v.BusyOperationId,
            v.CreatedAt,
        });
        rows = (query.Sort, query.Descending) switch
        {
            (VpsSort.Hostname, false) => rows.OrderBy(r => r.Hostname).ThenBy(r => r.Id),
            (VpsSort.Hostname, true) => rows.OrderByDescending(r => r.Hostname).ThenBy(r => r.Id),
            (VpsSort.Status, false) => rows.OrderBy(r => r.Status).ThenBy(r => r.Id),
            (VpsSort.Status, true) => rows.OrderByDescending(r => r.Status).ThenBy(r => r.Id),
            (VpsSort.Node, false) => rows.OrderBy(r => r.Node).ThenBy(r => r.Id),
            (VpsSort.Node, true) => rows.OrderByDescending(r => r.Node).ThenBy(r => r.Id),
            (VpsSort.Owner, false) => rows.OrderBy(r => r.Owner).ThenBy(r => r.Id),
            (VpsSort.Owner, true) => rows.OrderByDescending(r => r.Owner).ThenBy(r => r.Id),
            (_, false) => rows.OrderByDescending(r => r.Id),
            (_, true) => rows.OrderBy(r => r.Id),
        };
        var page = await rows.Skip(Math.Max(0, query.Skip)).Take(Math.Clamp(query.Take, 1, 200)).ToListAsync(cancellationToken);

        // Addresses of just this page, in one query.
        var ids = page.Select(r => r.Id).ToList();
        var addresses = (await db.IpAddresses.AsNoTracking().Where(a => a.VpsId != null && ids.Contains(a.VpsId.Value))
                .Select(a => new { VpsId = a.VpsId!.Value, a.Address }).ToListAsync(cancellationToken))
            .GroupBy(a => a.VpsId)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.OrderBy(a => a.Address.AddressFamily).Select(a => a.Address.ToString()).ToList());
        return (total, page.Select(r => new AdminVpsRow(r.Id, r.Hostname, r.Status, r.Plan, r.Node, addresses.GetValueOrDefault(r.Id) ?? [], r.Owner, r.BusyOperationId != null, r.CreatedAt)).ToList());
    }

    /// <summary>One page of every operation, newest first (failed ones first when asked), filtered in the database. Admins only.</summary>
    public async Task<(int Total, IReadOnlyList<AdminOperationRow> Rows)> SearchOperationsAsync(Actor actor, OperationQuery query, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        ArgumentNullException.ThrowIfNull(query);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var q = db.Operations.AsNoTracking();
        if (query.Status is { } status)
        {
            q = q.Where(o => o.Status == status);
        }

        if (query.Kind is { } kind)
        {
            q = q.Where(o => o.Kind == kind);
        }

        if (!string.IsNullOrWhiteSpace(query.Node))
        {
            q = q.Where(o => db.Nodes.Any(n => n.Id == o.NodeId && n.Name == query.Node));
        }

        var total = await q.CountAsync(cancellationToken);
        var ordered = query.FailedFirst
            ? q.OrderBy(o => o.Status == OperationStatus.Failed ? 0 : 1).ThenByDescending(o => o.Id)
            : q.OrderByDescending(o => o.Id);
        var rows = await ordered.Skip(Math.Max(0, query.Skip)).Take(Math.Clamp(query.Take, 1, 200))
            .Select(o => new AdminOperationRow(o.Id, o.VpsId, db.Vpses.Where(v => v.Id == o.VpsId).Select(v => v.Hostname).FirstOrDefault(),
                db.Nodes.Where(n => n.Id == o.NodeId).Select(n => n.Name).FirstOrDefault(), o.Kind, o.Status, o.Progress, o.Step, o.Error, o.ActorName, o.CreatedAt, o.FinishedAt))
            .ToListAsync(cancellationToken);
        return (total, rows);
    }
}
