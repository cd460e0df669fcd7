using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Hosting;
using Panel.Core.Persistence;

namespace Panel.Core.Hosting;

/// <summary>A site as the edge routes it.</summary>
/// <param name="SiteId">The site.</param>
/// <param name="Names">Its domain and aliases.</param>
/// <param name="Suspended">Whether the edge answers with the suspension page: the site is suspended, or its tenant's container is (billing's dunning suspends every server of an unpaid account, this one too).</param>
/// <param name="Destination">Where its web server listens (<c>http://IP:PORT/</c>), or null while its container has no address or is not running.</param>
/// <param name="CertificatePem">Its certificate (PEM), or null before one is issued.</param>
/// <param name="KeyPem">Its private key (PEM).</param>
/// <param name="OverAllowance">Whether its tenant's sites have used up their hosting plan's monthly traffic (the edge answers with the bandwidth page until the month ends or the plan grows).</param>
/// <param name="ForceHttps">Whether plain-HTTP requests get a redirect to HTTPS.</param>
public sealed record EdgeSite(int SiteId, IReadOnlyList<string> Names, bool Suspended, string? Destination, string? CertificatePem, string? KeyPem, bool OverAllowance = false, bool ForceHttps = false);

/// <summary>A hosting space as the SFTP gateway forwards it.</summary>
/// <param name="SpaceId">The space.</param>
/// <param name="Port">Its port on the gateway.</param>
/// <param name="Destination">Its container's IPv4 address (port 22 there), or null while the container has none or does not run (suspended included).</param>
public sealed record SftpRoute(int SpaceId, int Port, string? Destination);

/// <summary>What the edge reads from the database: the routes, and where the byte counts go.</summary>
public sealed class EdgeDirectory(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Every site with its names, destination and certificate.</summary>
    public async Task<IReadOnlyList<EdgeSite>> LoadAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.Sites.AsNoTracking().Select(s => new
        {
            s.Id,
            s.Port,
            s.Status,
            s.SpaceId,
            s.ForceHttps,
            Names = s.Names.OrderByDescending(n => n.IsPrimary).ThenBy(n => n.Name).Select(n => n.Name).ToList(),
            Running = s.Space.Vps != null && s.Space.Vps.Status == VpsStatus.Running,
            ContainerSuspended = s.Space.Vps != null && s.Space.Vps.Status == VpsStatus.Suspended,
            Address = s.Space.Vps == null ? null : s.Space.Vps.Addresses.Where(a => a.Pool.Family == 4).Select(a => a.Address).FirstOrDefault(),
            Cert = db.EdgeCertificates.Where(c => c.SiteId == s.Id).Select(c => new { c.CertificatePem, c.KeyPem }).FirstOrDefault(),
        }).ToListAsync(cancellationToken);
        var over = (await SpacesOverAllowanceAsync(db, cancellationToken)).ToHashSet();
        return [.. rows.Select(r => new EdgeSite(
            r.Id, r.Names, r.Status == SiteStatus.Suspended || r.ContainerSuspended,
            r.Running && r.Address is not null ? $"http://{r.Address}:{r.Port}/" : null,
            r.Cert?.CertificatePem, r.Cert?.KeyPem, over.Contains(r.SpaceId), r.ForceHttps))];
    }

    /// <summary>The hosting spaces whose sites' traffic this UTC month (as the edge counted it) has reached their plan's allowance.</summary>
    public async Task<IReadOnlyList<int>> SpacesOverAllowanceAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await SpacesOverAllowanceAsync(db, cancellationToken);
    }

    private Task<List<int>> SpacesOverAllowanceAsync(PanelDbContext db, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var month = new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        return db.HostingSpaces.AsNoTracking()
            .Where(s => s.Plan.MonthlyBandwidthBytes != null)
            .Where(s => db.SiteTraffic.Where(t => t.HourStart >= month && db.Sites.Any(x => x.Id == t.SiteId && x.SpaceId == s.Id))
                .Sum(t => t.RequestBytes + t.ResponseBytes) >= s.Plan.MonthlyBandwidthBytes)
            .Select(s => s.Id).ToListAsync(cancellationToken);
    }

    /// <summary>Every hosting space's SFTP gateway port and where it leads.</summary>
    public async Task<IReadOnlyList<SftpRoute>> LoadSftpAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.HostingSpaces.AsNoTracking().OrderBy(s => s.Id).Select(s => new
        {
            s.Id,
            s.SftpPort,
            Running = s.Vps != null && s.Vps.Status == VpsStatus.Running,
            Address = s.Vps == null ? null : s.Vps.Addresses.Where(a => a.Pool.Family == 4).Select(a => a.Address).FirstOrDefault(),
        }).ToListAsync(cancellationToken);
        return [.. rows.Select(r => new SftpRoute(r.Id, r.SftpPort, r.Running && r.Address is not null ? r.Address.ToString() : null))];
    }

    /// <summary>Adds counted bytes to each site's row of the hour (sites deleted meanwhile are skipped).</summary>
    public async Task AddTrafficAsync(DateTime hourStart, IReadOnlyDictionary<int, (long Requests, long In, long Out)> counts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var hour = new DateTime(hourStart.Year, hourStart.Month, hourStart.Day, hourStart.Hour, 0, 0, DateTimeKind.Utc);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        foreach (var (siteId, c) in counts)
        {
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO site_traffic (site_id, hour_start, requests, request_bytes, response_bytes)
                SELECT {siteId}, {hour}, {c.Requests}, {c.In}, {c.Out} WHERE EXISTS (SELECT 1 FROM sites WHERE id = {siteId})
                ON CONFLICT (site_id, hour_start) DO UPDATE SET requests = site_traffic.requests + EXCLUDED.requests,
                    request_bytes = site_traffic.request_bytes + EXCLUDED.request_bytes,
                    response_bytes = site_traffic.response_bytes + EXCLUDED.response_bytes
                """, cancellationToken);
        }
    }
}
