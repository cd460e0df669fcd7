using System.Globalization;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Hosting;
using Panel.Core.Hosting;
using Panel.Core.Jobs.Hosting;
using Panel.Core.Persistence;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Services;

/// <summary>
/// Shared web hosting: plans, a tenant's sites and their content. Customers reach only their own sites
/// (anything else is "not found"), admins all. A tenant's sites run in one container of their own (a VPS
/// row on an inactive compute plan carrying the hosting plan's limits, provisioned by the usual job when
/// the first site is added); the edge routes their names to it.
/// </summary>
public sealed partial class HostingService(
    IDbContextFactory<PanelDbContext> dbFactory,
    VpsService vpses,
    EdgeCa ca,
    HostingRuntime runtime,
    EdgeSignal signal,
    SiteAccessLog accessLog,
    EdgeStatus edgeStatus,
    SiteFiles files,
    HostingSync sync,
    PanelOptions options,
    AuditLog audit,
    IBackgroundJobClient jobs,
    TimeProvider clock)
{
    /// <summary>Whether the installation has an ACME server configured, so sites may choose "Let's Encrypt".</summary>
    public bool AcmeConfigured => options.Acme.Enabled;

    /// <summary>
    /// The image tenant containers run: Debian 12 (its OpenSSH serves SFTP, chrooted; busybox-static's httpd serves
    /// the static sites; a dynamic site's command has a Debian userland).
    /// </summary>
    public const string RuntimeImage = "debian-12";

    /// <summary>The first port a site's web server gets inside the container.</summary>
    public const int FirstPort = 8001;

    /// <summary>
    /// Hosting is billed like a VPS plan, through the tenant's container: its compute plan carries the
    /// hosting plan's monthly price as the cap and an hourly price that reaches it after this many hours
    /// (28 days), so a tenant who leaves mid-month pays the started hours.
    /// </summary>
    public const int HoursToMonthlyCap = 672;

    /// <summary>The hourly price of a hosting plan (4 decimals, half away from zero).</summary>
    public static decimal HourlyPriceFor(decimal monthly) => Math.Round(monthly / HoursToMonthlyCap, 4, MidpointRounding.AwayFromZero);

    /// <summary>Creates a hosting plan (admins) and the compute plan its containers are provisioned with (and billed by).</summary>
    public async Task<int> CreatePlanAsync(Actor actor, HostingPlanRequest request, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        ArgumentNullException.ThrowIfNull(request);
        var name = (request.Name ?? "").Trim();
        if (name.Length is 0 or > 100)
        {
            throw new PanelRefusedException("Give the plan a name of 1-100 characters.", "Name");
        }

        if (request.MaxSites is < 1 or > 1000)
        {
            throw new PanelRefusedException("A plan allows 1-1000 sites.", "MaxSites");
        }

        if (request.Vcpus is < 1 or > 64 || request.MemoryBytes < 32L << 20 || request.DiskBytes < 64L << 20 || request.MonthlyBandwidthBytes is < 0)
        {
            throw new PanelRefusedException("A plan needs 1-64 CPUs, at least 32 MiB of memory and 64 MiB of disk, and no negative bandwidth.", "Limits");
        }

        Money.CheckPrice(request.MonthlyPrice, "MonthlyPrice");

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await db.HostingPlans.AnyAsync(p => p.Name == name, cancellationToken))
        {
            throw new PanelRefusedException($"A hosting plan called {name} exists already.", "Name");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var compute = new Plan
        {
            Name = "Hosting: " + name,
            Description = "The container of a hosting plan's tenant (not on offer by itself).",
            Approach = VirtualizationKind.Container,
            Vcpus = request.Vcpus,
            MemoryBytes = request.MemoryBytes,
            DiskBytes = request.DiskBytes,
            MaxProcesses = 256,
            MonthlyBandwidthBytes = request.MonthlyBandwidthBytes,
            MonthlyPrice = request.MonthlyPrice,
            HourlyPrice = HourlyPriceFor(request.MonthlyPrice),
            Active = false,
            SortOrder = 1000,
            CreatedAt = now,
        };
        db.Plans.Add(compute);
        await db.SaveChangesAsync(cancellationToken);
        var plan = new HostingPlan
        {
            Name = name,
            MaxSites = request.MaxSites,
            DiskBytes = request.DiskBytes,
            MonthlyBandwidthBytes = request.MonthlyBandwidthBytes,
            Vcpus = request.Vcpus,
            MemoryBytes = request.MemoryBytes,
            MonthlyPrice = request.MonthlyPrice,
            ComputePlanId = compute.Id,
            CreatedAt = now,
        };
        db.HostingPlans.Add(plan);
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.HostingPlan, $"hosting_plan:{plan.Id}", name, cancellationToken);
        return plan.Id;
    }

    /// <summary>The hosting plans on offer (admins: all).</summary>
    public async Task<IReadOnlyList<HostingPlanView>> ListPlansAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.HostingPlans.Where(p => p.Active || actor.IsAdmin).OrderBy(p => p.MonthlyPrice).ThenBy(p => p.Id)
            .Select(p => new HostingPlanView(p.Id, p.Name, p.MaxSites, p.DiskBytes, p.MonthlyBandwidthBytes, p.Vcpus, p.MemoryBytes, p.MonthlyPrice, p.Active))
            .ToListAsync(cancellationToken);
    }

    /// <summary>
    /// Adds a site (static, or dynamic with a start command) by domain (and aliases). The caller's first site needs a plan and creates their
    /// space and its container; later sites count against the plan's site limit.
    /// </summary>
    public async Task<SiteView> AddSiteAsync(Actor actor, AddSiteRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var ownerId = Require.User(actor);
        try
        {
            return await AddSiteCoreAsync(actor, ownerId, request, cancellationToken);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, null, "add site: " + ex.Message, cancellationToken);
            throw;
        }
    }

    private async Task<SiteView> AddSiteCoreAsync(Actor actor, Guid ownerId, AddSiteRequest request, CancellationToken cancellationToken)
    {
        var domain = DomainName.Normalize(request.Domain);
        var kind = request.Kind;
        var command = kind switch
        {
            SiteKind.Static => null,
            SiteKind.Dynamic => SiteCommand.Check(request.Command),
            _ => throw new PanelRefusedException("Choose a static site or one served by your own web server.", "Kind"),
        };
        var aliases = (request.Aliases ?? []).Select(a => DomainName.Normalize(a, "Aliases")).Distinct(StringComparer.Ordinal).ToList();
        if (aliases.Contains(domain))
        {
            throw new PanelRefusedException($"{domain} is the site's domain; an alias must be another name.", "Aliases");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var names = aliases.Prepend(domain).ToList();
        if (await db.SiteDomains.Where(d => names.Contains(d.Name)).Select(d => d.Name).FirstOrDefaultAsync(cancellationToken) is { } taken)
        {
            throw Taken(taken);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var space = await db.HostingSpaces.Include(s => s.Plan).FirstOrDefaultAsync(s => s.OwnerId == ownerId, cancellationToken);
        if (space is null)
        {
            var plan = request.PlanId is { } pid ? await db.HostingPlans.FirstOrDefaultAsync(p => p.Id == pid && (p.Active || actor.IsAdmin), cancellationToken) : null;
            if (plan is null)
            {
                throw new PanelRefusedException("Choose one of the hosting plans on offer for your first site.", "PlanId");
            }

            space = await NewSpaceAsync(db, ownerId, plan, now, cancellationToken);
        }

        Site site;
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            // The space row serializes a tenant's concurrent additions: the count and the port are exact.
            await db.Database.ExecuteSqlAsync($"SELECT id FROM hosting_spaces WHERE id = {space.Id} FOR UPDATE", cancellationToken);
            var ports = await db.Sites.Where(s => s.SpaceId == space.Id).Select(s => s.Port).ToListAsync(cancellationToken);
            if (ports.Count >= space.Plan.MaxSites)
            {
                throw new PanelRefusedException($"Your plan {space.Plan.Name} allows {space.Plan.MaxSites} site{(space.Plan.MaxSites == 1 ? "" : "s")}; delete one or change the plan to add {domain}.", "Domain");
            }

            var port = FirstPort;
            while (ports.Contains(port))
            {
                port++;
            }

            site = new Site { SpaceId = space.Id, Domain = domain, Kind = kind, Command = command, Port = port, CreatedAt = now };
            site.Names.AddRange(names.Select(n => new SiteDomain { Name = n, IsPrimary = n == domain }));
            db.Sites.Add(site);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: var c } && c?.Contains("site_domains", StringComparison.Ordinal) == true)
            {
                throw Taken(domain);
            }

            await tx.CommitAsync(cancellationToken);
        }

        try
        {
            await EnsureContainerAsync(space.Id, cancellationToken);
        }
        catch (PanelRefusedException)
        {
            // No container can be made (no node with room, no image): the site goes again, nothing changed.
            await db.Sites.Where(s => s.Id == site.Id).ExecuteDeleteAsync(cancellationToken);
            throw;
        }

        await audit.RecordAsync(actor, AuditActions.HostingSite, $"site:{site.Id}", "added " + string.Join(", ", names), cancellationToken);
        await ca.IssueAsync(site.Id, cancellationToken);
        await TrySyncAsync(space.Id, cancellationToken: cancellationToken);
        signal.Notify();
        return await GetAsync(actor, site.Id, cancellationToken);
    }

    // A tenant's new space, with the lowest free SFTP gateway port (two spaces made at once may pick the same one: the
    // unique index refuses the second, which takes the next).
    private async Task<HostingSpace> NewSpaceAsync(PanelDbContext db, Guid ownerId, HostingPlan plan, DateTime now, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var first = options.Edge.SftpFirstPort;
            var used = (await db.HostingSpaces.Where(s => s.SftpPort >= first).Select(s => s.SftpPort).ToListAsync(cancellationToken)).ToHashSet();
            var port = first;
            while (used.Contains(port))
            {
                port++;
            }

            if (port > 65535)
            {
                throw new PanelRefusedException("No SFTP port is free for a new hosting space; ask an administrator.");
            }

            var space = new HostingSpace { OwnerId = ownerId, PlanId = plan.Id, Plan = plan, SftpPort = port, CreatedAt = now };
            db.HostingSpaces.Add(space);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                return space;
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: var c })
            {
                db.HostingSpaces.Remove(space);
                if (c?.Contains("sftp_port", StringComparison.Ordinal) != true || attempt >= 10)
                {
                    throw new PanelRefusedException("Your hosting space is being set up by another request; try again in a moment.");
                }
            }
        }
    }

    /// <summary>
    /// Sets (or, with null, clears) the SFTP password of the caller's hosting space (8-128 characters). The container's
    /// <c>chpasswd</c> gets it on stdin; the panel keeps only the hash the container made, so a re-created container
    /// gets it back. The SFTP user's keys are the caller's saved SSH keys either way.
    /// </summary>
    public async Task<HostingSpaceView> SetSftpPasswordAsync(Actor actor, string? password, CancellationToken cancellationToken = default)
    {
        var ownerId = Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var space = await db.HostingSpaces.FirstOrDefaultAsync(s => s.OwnerId == ownerId, cancellationToken)
            ?? throw new PanelRefusedException("Add a website first: SFTP reaches your websites' folders.");
        try
        {
            if (password is null)
            {
                space.SftpPasswordHash = null;
                await db.SaveChangesAsync(cancellationToken);
                await TrySyncAsync(space.Id, servers: false, cancellationToken);
            }
            else
            {
                var checkedPassword = SftpPassword.Check(password);
                var container = await ContainerAsync(space.Id, cancellationToken)
                    ?? throw new PanelRefusedException("The server for your websites is not running, so the SFTP password cannot be set right now.");
                space.SftpPasswordHash = await runtime.SetPasswordAsync(container.EngineId, checkedPassword, cancellationToken);
                await db.SaveChangesAsync(cancellationToken);
            }
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"hosting_space:{space.Id}", "SFTP password: " + ex.Message, cancellationToken);
            throw;
        }

        await audit.RecordAsync(actor, AuditActions.HostingSite, $"hosting_space:{space.Id}", password is null ? "SFTP password cleared" : "SFTP password set", cancellationToken);
        return (await SpaceAsync(actor, cancellationToken))!;
    }

    /// <summary>Changes a dynamic site's start command (its server restarts with it).</summary>
    public async Task<SiteView> SetCommandAsync(Actor actor, int siteId, string command, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        try
        {
            if (site.Kind != SiteKind.Dynamic)
            {
                throw new PanelRefusedException($"{site.Domain} is a static site: its files are served as they are, it has no start command.", "Command");
            }

            site.Command = SiteCommand.Check(command);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"site:{siteId}", "start command: " + ex.Message, cancellationToken);
            throw;
        }

        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.HostingSite, $"site:{siteId}", "start command: " + site.Command, cancellationToken);
        await TrySyncAsync(site.SpaceId, cancellationToken: cancellationToken);
        signal.Notify();
        return await GetAsync(actor, siteId, cancellationToken);
    }

    /// <summary>
    /// Turns the redirect of plain-HTTP requests to HTTPS on or off (the owner or an admin). The edge answers them
    /// with 301 (GET, HEAD) or 308 (other methods, which keep their body) to the same name, path and query over HTTPS;
    /// ACME's HTTP-01 challenges are still answered over HTTP, so certificates keep renewing.
    /// </summary>
    public async Task<SiteView> SetForceHttpsAsync(Actor actor, int siteId, bool on, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        if (site.ForceHttps != on)
        {
            site.ForceHttps = on;
            await db.SaveChangesAsync(cancellationToken);
            await audit.RecordAsync(actor, AuditActions.HostingSite, $"site:{siteId}", on ? "HTTP redirected to HTTPS" : "HTTP served as HTTP", cancellationToken);
            signal.Notify();
        }

        return await GetAsync(actor, siteId, cancellationToken);
    }

    /// <summary>The end of a site's server log (starts, exits and its output; the owner or an admin), or "" while its container does not run.</summary>
    public async Task<string> ServerLogAsync(Actor actor, int siteId, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        return await ContainerAsync(site.SpaceId, cancellationToken) is { } container ? await runtime.LogTailAsync(container.EngineId, site.Id, cancellationToken) : "";
    }

    /// <summary>Adds another name to a site.</summary>
    public async Task<SiteView> AddAliasAsync(Actor actor, int siteId, string alias, CancellationToken cancellationToken = default)
    {
        var name = DomainName.Normalize(alias, "Alias");
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        if (await db.SiteDomains.AnyAsync(d => d.Name == name, cancellationToken))
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"site:{siteId}", $"alias {name}: taken", cancellationToken);
            throw Taken(name);
        }

        db.SiteDomains.Add(new SiteDomain { SiteId = site.Id, Name = name });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw Taken(name);
        }

        await audit.RecordAsync(actor, AuditActions.HostingSite, $"site:{site.Id}", "alias added: " + name, cancellationToken);
        await NamesChangedAsync(site, cancellationToken);
        signal.Notify();
        return await GetAsync(actor, siteId, cancellationToken);
    }

    /// <summary>Removes an alias (never the site's domain).</summary>
    public async Task<SiteView> RemoveAliasAsync(Actor actor, int siteId, string alias, CancellationToken cancellationToken = default)
    {
        var name = DomainName.Normalize(alias, "Alias");
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        var row = await db.SiteDomains.FirstOrDefaultAsync(d => d.SiteId == site.Id && d.Name == name, cancellationToken)
            ?? throw new PanelRefusedException($"{name} is not an alias of {site.Domain}.", "Alias");
        if (row.IsPrimary)
        {
            throw new PanelRefusedException($"{name} is the site's domain, not an alias; delete the site instead.", "Alias");
        }

        db.SiteDomains.Remove(row);
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.HostingSite, $"site:{site.Id}", "alias removed: " + name, cancellationToken);
        await NamesChangedAsync(site, cancellationToken);
        signal.Notify();
        return await GetAsync(actor, siteId, cancellationToken);
    }

    /// <summary>Deletes a site: its names, certificate and content (the container stays for the tenant's other sites).</summary>
    public async Task DeleteSiteAsync(Actor actor, int siteId, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        var spaceId = site.SpaceId;
        db.Sites.Remove(site);
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.HostingSite, $"site:{siteId}", "deleted " + site.Domain, cancellationToken);
        signal.Notify();
        if (await ContainerAsync(spaceId, cancellationToken) is { } container)
        {
            await runtime.RemoveAsync(container.EngineId, siteId, cancellationToken);
            await TrySyncAsync(spaceId, cancellationToken: cancellationToken);
        }
    }

    /// <summary>
    /// Ends a tenant's hosting for good (admins; dunning's termination, once their container's deletion is
    /// requested): every site with its names, certificate and traffic rows, and the hosting space itself, go in
    /// one transaction, so their domains are free for anyone at once and the edge stops routing them (unknown
    /// host, 404) instead of answering "not available" for a container that will never come back. Each site
    /// is audited. Returns the domains removed (empty when the tenant had no hosting).
    /// </summary>
    public Task<IReadOnlyList<string>> TerminateAsync(Actor actor, Guid ownerId, string reason, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return RemoveSpaceAsync(actor, ownerId, reason, AuditActions.HostingTerminated, cancellationToken);
    }

    /// <summary>
    /// Removes a tenant's hosting space with its sites (cascading to names, certificates and traffic) in one
    /// transaction, audits each site under <paramref name="auditAction"/>, and signals the edge. Returns the names removed.
    /// </summary>
    private async Task<IReadOnlyList<string>> RemoveSpaceAsync(Actor actor, Guid ownerId, string reason, string auditAction, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var space = await db.HostingSpaces.FirstOrDefaultAsync(s => s.OwnerId == ownerId, cancellationToken);
        if (space is null)
        {
            return [];
        }

        // The space row also serializes against a site being added at this moment.
        await db.Database.ExecuteSqlAsync($"SELECT id FROM hosting_spaces WHERE id = {space.Id} FOR UPDATE", cancellationToken);
        var sites = await db.Sites.Where(s => s.SpaceId == space.Id).OrderBy(s => s.Id)
            .Select(s => new { s.Id, Names = s.Names.OrderByDescending(n => n.IsPrimary).ThenBy(n => n.Name).Select(n => n.Name).ToList() }).ToListAsync(cancellationToken);
        db.HostingSpaces.Remove(space); // cascades: sites, site_domains, edge_certificates, site_traffic
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);

        foreach (var site in sites)
        {
            await audit.RecordAsync(actor, auditAction, $"site:{site.Id}", $"removed {string.Join(", ", site.Names)}: {reason}", cancellationToken);
        }

        await audit.RecordAsync(actor, auditAction, $"user:{ownerId}",
            string.Create(CultureInfo.InvariantCulture, $"hosting space #{space.Id} removed with {sites.Count} site(s): {reason}"), cancellationToken);
        accessLog.Retain((await db.Sites.Select(s => s.Id).ToListAsync(cancellationToken)).ToHashSet());
        signal.Notify();
        return [.. sites.SelectMany(s => s.Names)];
    }

    /// <summary>The caller's sites (admins: everyone's), by domain.</summary>
    public async Task<IReadOnlyList<SiteView>> ListAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await Views(db, db.Sites.Where(s => actor.IsAdmin || s.Space.OwnerId == actor.UserId).OrderBy(s => s.Domain)).ToListAsync(cancellationToken);
    }

    /// <summary>One site, if the caller may see it.</summary>
    public async Task<SiteView> GetAsync(Actor actor, int siteId, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await Views(db, db.Sites.Where(s => s.Id == siteId && (actor.IsAdmin || s.Space.OwnerId == actor.UserId))).FirstOrDefaultAsync(cancellationToken)
            ?? throw new PanelNotFoundException($"No site #{siteId}.");
    }

    /// <summary>
    /// The caller's hosting space - their plan and the container (the "hosting runtime") that serves their sites -,
    /// or null before their first site. The container is read-only here: it is not one of the caller's servers.
    /// </summary>
    public async Task<HostingSpaceView?> SpaceAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        var ownerId = Require.User(actor);
        var sftpHost = options.Edge.SftpHost.Length > 0 ? options.Edge.SftpHost : options.Edge.SftpAddress;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.HostingSpaces.Where(s => s.OwnerId == ownerId).Select(s => new HostingSpaceView(
            s.Id, s.Plan.Name, s.Plan.MaxSites, s.Sites.Count, s.Plan.DiskBytes, s.Sites.Sum(x => x.ContentBytes), s.Plan.Vcpus, s.Plan.MemoryBytes,
            s.Plan.MonthlyBandwidthBytes, s.Vps == null ? null : s.Vps.Status, s.Vps == null ? null : s.Vps.StatusReason,
            sftpHost, s.SftpPort, s.SftpPasswordHash != null)).FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>Every tenant's sites (admins), paged in the database; <see cref="SiteQuery.Search"/> matches any name of a site or its owner's email.</summary>
    public async Task<(int Total, IReadOnlyList<SiteView> Rows)> SearchAsync(Actor actor, SiteQuery query, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        ArgumentNullException.ThrowIfNull(query);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var sites = db.Sites.AsQueryable();
        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            var pattern = "%" + AuditLog.EscapeLike(query.Search.Trim()) + "%";
            sites = sites.Where(s => s.Names.Any(n => EF.Functions.ILike(n.Name, pattern))
                                     || db.Users.Any(u => u.Id == s.Space.OwnerId && u.Email != null && EF.Functions.ILike(u.Email, pattern)));
        }

        if (query.Status is { } status)
        {
            sites = sites.Where(s => s.Status == status);
        }

        var total = await sites.CountAsync(cancellationToken);
        var rows = await Views(db, sites.OrderBy(s => s.Domain).ThenBy(s => s.Id).Skip(Math.Max(0, query.Skip)).Take(Math.Clamp(query.Take, 1, 200))).ToListAsync(cancellationToken);
        return (total, rows);
    }

    /// <summary>A site's recent requests at the edge of this process, newest first (the owner or an admin).</summary>
    public async Task<IReadOnlyList<SiteRequest>> AccessLogAsync(Actor actor, int siteId, int take = 100, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        return accessLog.Recent(site.Id, take);
    }

    /// <summary>A site's bytes per UTC hour over the last <paramref name="hours"/> hours, the current one included, oldest first; hours without traffic are zeros.</summary>
    public async Task<IReadOnlyList<SiteTrafficPoint>> BandwidthAsync(Actor actor, int siteId, int hours = 48, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var last = new DateTime(now.Year, now.Month, now.Day, now.Hour, 0, 0, DateTimeKind.Utc);
        var first = last.AddHours(1 - Math.Clamp(hours, 1, 24 * 62));
        var rows = await db.SiteTraffic.AsNoTracking().Where(t => t.SiteId == site.Id && t.HourStart >= first)
            .ToDictionaryAsync(t => t.HourStart, cancellationToken);
        var points = new List<SiteTrafficPoint>();
        for (var h = first; h <= last; h = h.AddHours(1))
        {
            points.Add(rows.TryGetValue(h, out var t) ? new SiteTrafficPoint(h, t.Requests, t.RequestBytes, t.ResponseBytes) : new SiteTrafficPoint(h, 0, 0, 0));
        }

        return points;
    }

    /// <summary>The edge's health: where it listens, routes and certificates loaded, the last reload (admins).</summary>
    public EdgeHealth EdgeHealth(Actor actor)
    {
        Require.Admin(actor);
        return edgeStatus.Current;
    }

    /// <summary>
    /// Replaces a site's content with a zip. The zip is checked whole before anything is written (see
    /// <see cref="SiteArchive"/>): a refusal leaves the site and everything else as it was.
    /// </summary>
    public async Task<SiteView> UploadAsync(Actor actor, int siteId, Stream zip, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        var space = await db.HostingSpaces.Include(s => s.Plan).FirstAsync(s => s.Id == site.SpaceId, cancellationToken);
        var otherSites = await db.Sites.Where(s => s.SpaceId == space.Id && s.Id != site.Id).SumAsync(s => s.ContentBytes, cancellationToken);
        SiteArchive.Checked content;
        try
        {
            content = SiteArchive.Check(zip, Math.Max(0, space.Plan.DiskBytes - otherSites - (16L << 20)));
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"site:{siteId}", "upload: " + ex.Message, cancellationToken);
            throw;
        }

        var container = await ContainerAsync(space.Id, cancellationToken)
            ?? throw new PanelRefusedException($"The server for your websites is still being set up; upload {site.Domain}'s content again in a moment.");
        await runtime.DeployAsync(container.EngineId, site.Id, content.Tar, cancellationToken);
        site.ContentBytes = content.Bytes;
        await db.SaveChangesAsync(cancellationToken);
        await TrySyncAsync(space.Id, cancellationToken: cancellationToken);
        await audit.RecordAsync(actor, AuditActions.HostingContent, $"site:{siteId}", $"{content.Files} files, {content.Bytes} bytes", cancellationToken);
        signal.Notify();
        return await GetAsync(actor, siteId, cancellationToken);
    }

    /// <summary>The largest single file the file manager takes.</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>The files and folders in a folder of a site (its file manager; the owner or an admin).</summary>
    public async Task<IReadOnlyList<SiteFileEntry>> FilesAsync(Actor actor, int siteId, string? path, CancellationToken cancellationToken = default)
    {
        var (site, container) = await FileTargetAsync(actor, siteId, cancellationToken);
        return await files.ListAsync(container.EngineId, site.Id, path ?? "", cancellationToken);
    }

    /// <summary>Writes one file into a folder of a site (replacing a file of that name), within the plan's disk.</summary>
    public async Task<SiteView> WriteFileAsync(Actor actor, int siteId, string? folder, string name, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var (site, container) = await FileTargetAsync(actor, siteId, cancellationToken);
        try
        {
            var path = SiteFiles.CheckPath(folder, "Folder");
            var fileName = SiteFiles.CheckName(name);
            using var buffer = new MemoryStream();
            await content.CopyToAsync(buffer, cancellationToken);
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var plan = await db.HostingSpaces.Where(s => s.Id == site.SpaceId).Select(s => s.Plan).FirstAsync(cancellationToken);
            var others = await db.Sites.Where(s => s.SpaceId == site.SpaceId && s.Id != site.Id).SumAsync(s => s.ContentBytes, cancellationToken);
            var left = plan.DiskBytes - others - (16L << 20) - site.ContentBytes;
            if (buffer.Length > MaxFileBytes || buffer.Length > left)
            {
                throw new PanelRefusedException($"{fileName} is {buffer.Length} bytes: more than {(buffer.Length > MaxFileBytes ? "the file manager takes (64 MiB; upload a zip)" : "your plan's disk has left")}.", "Content");
            }

            var total = await files.WriteAsync(container.EngineId, site.Id, path, fileName, buffer.ToArray(), cancellationToken);
            await db.Sites.Where(s => s.Id == site.Id).ExecuteUpdateAsync(s => s.SetProperty(x => x.ContentBytes, total), cancellationToken);
            await audit.RecordAsync(actor, AuditActions.HostingContent, $"site:{siteId}", $"file written: /{(path.Length == 0 ? "" : path + "/")}{fileName} ({buffer.Length} bytes)", cancellationToken);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"site:{siteId}", "write file: " + ex.Message, cancellationToken);
            throw;
        }

        signal.Notify(); // the edge forgets what it cached of the site
        await TrySyncAsync(site.SpaceId, cancellationToken: cancellationToken); // the site's first file may make its folder: its web server serves it
        return await GetAsync(actor, siteId, cancellationToken);
    }

    /// <summary>Deletes a file or a folder (with what it holds) of a site.</summary>
    public async Task<SiteView> DeleteFileAsync(Actor actor, int siteId, string path, CancellationToken cancellationToken = default)
    {
        var (site, container) = await FileTargetAsync(actor, siteId, cancellationToken);
        try
        {
            var total = await files.DeleteAsync(container.EngineId, site.Id, path, cancellationToken);
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await db.Sites.Where(s => s.Id == site.Id).ExecuteUpdateAsync(s => s.SetProperty(x => x.ContentBytes, total), cancellationToken);
            await audit.RecordAsync(actor, AuditActions.HostingContent, $"site:{siteId}", "deleted /" + SiteFiles.CheckPath(path), cancellationToken);
            signal.Notify();
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"site:{siteId}", "delete file: " + ex.Message, cancellationToken);
            throw;
        }

        return await GetAsync(actor, siteId, cancellationToken);
    }

    /// <summary>Renames a file or folder of a site within its folder.</summary>
    public async Task RenameFileAsync(Actor actor, int siteId, string path, string newName, CancellationToken cancellationToken = default)
    {
        var (site, container) = await FileTargetAsync(actor, siteId, cancellationToken);
        try
        {
            await files.RenameAsync(container.EngineId, site.Id, path, newName, cancellationToken);
            await audit.RecordAsync(actor, AuditActions.HostingContent, $"site:{siteId}", $"renamed /{SiteFiles.CheckPath(path)} to {newName.Trim()}", cancellationToken);
            signal.Notify();
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"site:{siteId}", "rename file: " + ex.Message, cancellationToken);
            throw;
        }
    }

    private async Task<(Site Site, Vps Container)> FileTargetAsync(Actor actor, int siteId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        var container = await ContainerAsync(site.SpaceId, cancellationToken)
            ?? throw new PanelRefusedException($"The server for your websites is not running, so {site.Domain}'s files cannot be reached right now.");
        return (site, container);
    }

    /// <summary>Suspends a site (admins; billing later): the edge answers with the suspension page.</summary>
    public Task SuspendAsync(Actor actor, int siteId, string reason, CancellationToken cancellationToken = default)
        => ChangeStatusAsync(actor, siteId, s => s.Suspend(string.IsNullOrWhiteSpace(reason) ? "suspended by an administrator" : reason.Trim()), "suspended", cancellationToken);

    /// <summary>Serves a suspended site again (admins).</summary>
    public Task UnsuspendAsync(Actor actor, int siteId, CancellationToken cancellationToken = default)
        => ChangeStatusAsync(actor, siteId, s => s.Unsuspend(), "unsuspended", cancellationToken);

    /// <summary>The panel CA's certificate (PEM): what clients trust to verify the sites' certificates.</summary>
    public Task<string> CaCertificatePemAsync(CancellationToken cancellationToken = default) => ca.CaCertificatePemAsync(cancellationToken);

    /// <summary>
    /// Reissues the panel-CA certificates expiring within 30 days (and missing ones) and queues an ACME order for each
    /// ACME site that is due or holds no ACME certificate; returns how many of both.
    /// </summary>
    public async Task<int> RenewCertificatesAsync(CancellationToken cancellationToken = default)
    {
        var due = await ca.DueForRenewalAsync(cancellationToken);
        var reissued = 0;
        foreach (var (id, source) in due)
        {
            if (source == CertificateSource.Acme)
            {
                AcmeCertificateJob.Enqueue(jobs, id);
            }
            else
            {
                await ca.IssueAsync(id, cancellationToken);
                reissued++;
            }
        }

        if (reissued > 0)
        {
            signal.Notify();
        }

        return due.Count;
    }

    /// <summary>
    /// Chooses where a site's certificate comes from (its owner or an admin): ACME ("Let's Encrypt", when the installation
    /// has it) queues an order at once and the site keeps its current certificate until it is through; the panel CA issues
    /// one now.
    /// </summary>
    public async Task<SiteView> SetCertificateSourceAsync(Actor actor, int siteId, CertificateSource source, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await OwnedAsync(db, actor, siteId, cancellationToken);
        if (!Enum.IsDefined(source))
        {
            throw new PanelRefusedException("Choose the panel's certificate or Let's Encrypt.", "CertificateSource");
        }

        if (source == CertificateSource.Acme && !options.Acme.Enabled)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"site:{siteId}", "certificate source: ACME is not configured", cancellationToken);
            throw new PanelRefusedException("This installation has no Let's Encrypt (ACME) server configured; the site keeps the panel's certificate.", "CertificateSource");
        }

        site.CertificateSource = source;
        site.CertificateProblem = null;
        site.CertificateProblemAt = null;
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.HostingSite, $"site:{siteId}", "certificate source: " + (source == CertificateSource.Acme ? "ACME" : "panel CA"), cancellationToken);
        if (source == CertificateSource.Acme)
        {
            AcmeCertificateJob.Enqueue(jobs, siteId);
        }
        else if (!await db.EdgeCertificates.AnyAsync(c => c.SiteId == siteId && c.Source == CertificateSource.PanelCa, cancellationToken))
        {
            await ca.IssueAsync(siteId, cancellationToken);
            signal.Notify();
        }

        return await GetAsync(actor, siteId, cancellationToken);
    }

    /// <summary>
    /// A site's names changed: a panel-CA certificate for them now; an ACME site also gets an order (it keeps a current
    /// certificate that still covers every name until the order is through).
    /// </summary>
    private async Task NamesChangedAsync(Site site, CancellationToken cancellationToken)
    {
        if (site.CertificateSource == CertificateSource.Acme && options.Acme.Enabled)
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var covered = await db.EdgeCertificates.Where(c => c.SiteId == site.Id).Select(c => c.Names).FirstOrDefaultAsync(cancellationToken) is { } names
                && await db.SiteDomains.Where(d => d.SiteId == site.Id).Select(d => d.Name).ToListAsync(cancellationToken) is var now
                && now.All(names.Split(',').Contains);
            if (!covered)
            {
                await ca.IssueAsync(site.Id, cancellationToken);
            }

            AcmeCertificateJob.Enqueue(jobs, site.Id);
            return;
        }

        await ca.IssueAsync(site.Id, cancellationToken);
    }

    private async Task ChangeStatusAsync(Actor actor, int siteId, Action<Site> change, string what, CancellationToken cancellationToken)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await db.Sites.FirstOrDefaultAsync(s => s.Id == siteId, cancellationToken) ?? throw new PanelNotFoundException($"No site #{siteId}.");
        try
        {
            change(site);
        }
        catch (InvalidOperationException ex)
        {
            throw new PanelRefusedException(ex.Message);
        }

        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.HostingSite, $"site:{siteId}", what, cancellationToken);
        signal.Notify();
    }

    /// <summary>Provisions the space's container when it has none (or its last one failed or was deleted).</summary>
    private async Task EnsureContainerAsync(int spaceId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var space = await db.HostingSpaces.Include(s => s.Plan).Include(s => s.Vps).FirstAsync(s => s.Id == spaceId, cancellationToken);
        if (space.Vps is { } v && v.Status is not (VpsStatus.Deleted or VpsStatus.Deleting) && v.NodeId is not null)
        {
            return;
        }

        var imageId = await db.Images.Where(i => i.Name == RuntimeImage).Select(i => (int?)i.Id).FirstOrDefaultAsync(cancellationToken)
            ?? throw new PanelRefusedException($"The {RuntimeImage} image is not installed, so no website can be served yet.");
        var accepted = await vpses.CreateAsync(Actor.System, new CreateVpsRequest(
            space.Plan.ComputePlanId, imageId, "hosting-" + space.Id.ToString(CultureInfo.InvariantCulture), null, [], space.OwnerId), cancellationToken);
        space.VpsId = accepted.VpsId;
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>The space's running container, or null while it is not running.</summary>
    private async Task<Vps?> ContainerAsync(int spaceId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var vpsId = await db.HostingSpaces.Where(s => s.Id == spaceId).Select(s => s.VpsId).FirstOrDefaultAsync(cancellationToken);
        var vps = vpsId is null ? null : await db.Vpses.Include(v => v.Node).AsNoTracking().FirstOrDefaultAsync(v => v.Id == vpsId, cancellationToken);
        if (vps is null || vps.Status != VpsStatus.Running)
        {
            return null;
        }

        runtime.RequireLocal(vps.Node?.Name);
        return vps;
    }

    /// <summary>Brings the running container in line (SFTP access, and with <paramref name="servers"/> the site servers, restarted); nothing while it does not run.</summary>
    private Task<bool> TrySyncAsync(int spaceId, bool servers = true, CancellationToken cancellationToken = default)
        => sync.SyncSpaceAsync(spaceId, servers, cancellationToken);

    private static async Task<Site> OwnedAsync(PanelDbContext db, Actor actor, int siteId, CancellationToken cancellationToken)
    {
        Require.User(actor);
        return await db.Sites.FirstOrDefaultAsync(s => s.Id == siteId && (actor.IsAdmin || s.Space.OwnerId == actor.UserId), cancellationToken)
            ?? throw new PanelNotFoundException($"No site #{siteId}.");
    }

    private static PanelRefusedException Taken(string name)
        => new($"{name} is already in use by a website; a domain can belong to one account only.", "Domain");

    private IQueryable<SiteView> Views(PanelDbContext db, IQueryable<Site> q)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var month = new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        return q.Select(s => new SiteView(
            s.Id, s.Domain, s.Names.Where(n => !n.IsPrimary).OrderBy(n => n.Name).Select(n => n.Name).ToList(), s.Kind, s.Status, s.StatusReason,
            s.Port, s.ContentBytes, s.Space.OwnerId, s.Space.Plan.Name, s.Space.Vps == null ? null : s.Space.Vps.Status, s.CreatedAt,
            db.Users.Where(u => u.Id == s.Space.OwnerId).Select(u => u.Email).FirstOrDefault() ?? "",
            s.Space.Vps == null ? null : s.Space.Vps.StatusReason,
            db.EdgeCertificates.Where(c => c.SiteId == s.Id).Select(c => (DateTime?)c.NotAfter).FirstOrDefault(),
            db.SiteTraffic.Where(t => t.SiteId == s.Id && t.HourStart >= month).Sum(t => t.RequestBytes + t.ResponseBytes),
            s.CertificateSource,
            db.EdgeCertificates.Where(c => c.SiteId == s.Id).Select(c => (CertificateSource?)c.Source).FirstOrDefault(),
            db.EdgeCertificates.Where(c => c.SiteId == s.Id).Select(c => c.Issuer).FirstOrDefault(),
            s.CertificateProblem,
            s.Command,
            s.ForceHttps));
    }
}

/// <summary>A new hosting plan.</summary>
/// <param name="Name">Display name.</param>
/// <param name="MaxSites">Sites allowed.</param>
/// <param name="DiskBytes">Disk of the tenant container (quota over all sites).</param>
/// <param name="MonthlyBandwidthBytes">Traffic allowance per month, or null.</param>
/// <param name="Vcpus">CPUs of the container.</param>
/// <param name="MemoryBytes">Memory of the container.</param>
/// <param name="MonthlyPrice">Monthly price.</param>
public sealed record HostingPlanRequest(string Name, int MaxSites, long DiskBytes, long? MonthlyBandwidthBytes, int Vcpus, long MemoryBytes, decimal MonthlyPrice);

/// <summary>A hosting plan on offer.</summary>
/// <param name="Id">Id.</param>
/// <param name="Name">Name.</param>
/// <param name="MaxSites">Sites allowed.</param>
/// <param name="DiskBytes">Disk.</param>
/// <param name="MonthlyBandwidthBytes">Traffic allowance.</param>
/// <param name="Vcpus">CPUs.</param>
/// <param name="MemoryBytes">Memory.</param>
/// <param name="MonthlyPrice">Price.</param>
/// <param name="Active">On offer.</param>
public sealed record HostingPlanView(int Id, string Name, int MaxSites, long DiskBytes, long? MonthlyBandwidthBytes, int Vcpus, long MemoryBytes, decimal MonthlyPrice, bool Active);

/// <summary>A request to add a site.</summary>
/// <param name="Domain">Its domain (Unicode or punycode).</param>
/// <param name="Aliases">Other names it answers to.</param>
/// <param name="PlanId">The hosting plan, needed for the caller's first site.</param>
/// <param name="Kind">Static files, or a dynamic site served by the tenant's own web server process.</param>
/// <param name="Command">A dynamic site's start command (run as <c>sh -c COMMAND</c> by the user <c>web</c> in the site folder, with <c>PORT</c> set to the port to listen on).</param>
public sealed record AddSiteRequest(string Domain, IReadOnlyList<string>? Aliases = null, int? PlanId = null, SiteKind Kind = SiteKind.Static, string? Command = null);

/// <summary>A site as its owner (or an admin) sees it.</summary>
/// <param name="Id">Id.</param>
/// <param name="Domain">Primary domain.</param>
/// <param name="Aliases">Aliases.</param>
/// <param name="Kind">How it is served.</param>
/// <param name="Status">Active or suspended.</param>
/// <param name="StatusReason">Why suspended.</param>
/// <param name="Port">Its web server's port inside the container.</param>
/// <param name="ContentBytes">Bytes of content.</param>
/// <param name="OwnerId">The tenant.</param>
/// <param name="PlanName">The tenant's hosting plan.</param>
/// <param name="ContainerStatus">The tenant container's status, or null before it exists.</param>
/// <param name="CreatedAt">When added.</param>
/// <param name="OwnerEmail">The tenant's email.</param>
/// <param name="ContainerReason">Why the container is suspended or in error, if it is.</param>
/// <param name="CertificateExpiresAt">When its TLS certificate expires (UTC), or null before one is issued.</param>
/// <param name="BytesThisMonth">Bytes it moved through the edge (requests and responses) since the start of the UTC month.</param>
/// <param name="CertificateSource">Where its certificate should come from (the owner's choice).</param>
/// <param name="CertificateIssuedBy">Who issued the certificate it has now (null before one is issued).</param>
/// <param name="CertificateIssuer">The issuer's distinguished name of the certificate it has now.</param>
/// <param name="CertificateProblem">Why the last ACME order failed, or null.</param>
/// <param name="Command">A dynamic site's start command (null for static sites).</param>
/// <param name="ForceHttps">Whether plain-HTTP visitors are redirected to HTTPS.</param>
public sealed record SiteView(int Id, string Domain, IReadOnlyList<string> Aliases, SiteKind Kind, SiteStatus Status, string? StatusReason,
    int Port, long ContentBytes, Guid OwnerId, string PlanName, VpsStatus? ContainerStatus, DateTime CreatedAt,
    string OwnerEmail, string? ContainerReason, DateTime? CertificateExpiresAt, long BytesThisMonth,
    CertificateSource CertificateSource = CertificateSource.PanelCa, CertificateSource? CertificateIssuedBy = null, string? CertificateIssuer = null, string? CertificateProblem = null,
    string? Command = null, bool ForceHttps = false)
{
    /// <summary>What a visitor gets, from the site's and its container's status (the edge decides the same way).</summary>
    public SiteState State => Status == SiteStatus.Suspended || ContainerStatus == VpsStatus.Suspended ? SiteState.Suspended
        : ContainerStatus == VpsStatus.Running ? SiteState.Live
        : ContainerStatus is null or VpsStatus.Creating ? SiteState.SettingUp
        : SiteState.Down;

    /// <summary>Why a visitor gets the suspension page, if they do.</summary>
    public string? SuspensionReason => Status == SiteStatus.Suspended ? StatusReason : ContainerStatus == VpsStatus.Suspended ? ContainerReason ?? "account suspended" : null;
}

/// <summary>A tenant's hosting space as they see it.</summary>
/// <param name="Id">Id.</param>
/// <param name="PlanName">The hosting plan.</param>
/// <param name="MaxSites">Sites the plan allows.</param>
/// <param name="Sites">Sites now.</param>
/// <param name="DiskBytes">The container's disk (the quota over all sites).</param>
/// <param name="ContentBytes">Bytes of content uploaded over all sites.</param>
/// <param name="Vcpus">The container's CPUs.</param>
/// <param name="MemoryBytes">The container's memory.</param>
/// <param name="MonthlyBandwidthBytes">The monthly traffic allowance, or null.</param>
/// <param name="ContainerStatus">The container's status (the "hosting runtime"), or null before it exists.</param>
/// <param name="ContainerReason">Why it is suspended or in error.</param>
/// <param name="SftpHost">Where customers connect by SFTP (<c>Panel:Edge:SftpHost</c>, else the gateway's address).</param>
/// <param name="SftpPort">The space's port on the SFTP gateway.</param>
/// <param name="SftpPasswordSet">Whether an SFTP password is set (keys work either way).</param>
public sealed record HostingSpaceView(int Id, string PlanName, int MaxSites, int Sites, long DiskBytes, long ContentBytes, int Vcpus, long MemoryBytes,
    long? MonthlyBandwidthBytes, VpsStatus? ContainerStatus, string? ContainerReason, string SftpHost = "", int SftpPort = 0, bool SftpPasswordSet = false)
{
    /// <summary>The SFTP user inside the container.</summary>
    public static string SftpUser => HostingRuntime.WebUser;

    /// <summary>The command line that connects: <c>sftp -P PORT web@HOST</c>.</summary>
    public string SftpCommand => string.Create(CultureInfo.InvariantCulture, $"sftp -P {SftpPort} {SftpUser}@{SftpHost}");
}

/// <summary>What a visitor of a site gets.</summary>
public enum SiteState
{
    /// <summary>Served by the tenant's container.</summary>
    Live,

    /// <summary>The suspension page (the site or the tenant's account is suspended).</summary>
    Suspended,

    /// <summary>The container is being created: "not available yet".</summary>
    SettingUp,

    /// <summary>The container is stopped, in error or gone: "not available".</summary>
    Down,
}

/// <summary>A filter and page of the admins' site list.</summary>
/// <param name="Search">Part of any name of a site or its owner's email, or null.</param>
/// <param name="Status">Only sites of this status, or null.</param>
/// <param name="Skip">Rows to skip.</param>
/// <param name="Take">Rows to return (1-200).</param>
public sealed record SiteQuery(string? Search = null, SiteStatus? Status = null, int Skip = 0, int Take = 25);

/// <summary>A site's traffic in one UTC hour.</summary>
/// <param name="Hour">The start of the hour.</param>
/// <param name="Requests">Requests.</param>
/// <param name="RequestBytes">Bytes received from clients.</param>
/// <param name="ResponseBytes">Bytes sent to clients.</param>
public sealed record SiteTrafficPoint(DateTime Hour, long Requests, long RequestBytes, long ResponseBytes);
