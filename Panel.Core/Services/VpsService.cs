using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Nodes;
using Panel.Core.Domain.Operations;
using Panel.Core.Jobs;
using Panel.Core.Persistence;
using Panel.Hypervisor;
using Panel.Hypervisor.Guest;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Processes;

namespace Panel.Core.Services;

/// <summary>
/// The VPS use cases pages and the API call. Every call checks who asks: customers reach only their
/// own VPSes (anything else is "not found"), admins reach all. Mutations are accepted here - checked,
/// recorded as an operation, the VPS marked busy - and done by a job on the VPS's node queue.
/// </summary>
public sealed partial class VpsService(
    IDbContextFactory<PanelDbContext> dbFactory,
    OperationDispatcher dispatcher,
    AuditLog audit,
    TimeProvider clock)
{
    /// <summary>Orders a VPS: validates, places it on a node with room, takes an address, and queues its provisioning.</summary>
    public async Task<VpsAccepted> CreateAsync(Actor actor, CreateVpsRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var caller = Require.User(actor);
        var ownerId = request.OwnerId is { } o && o != caller ? (actor.IsAdmin ? o : throw new UnauthorizedAccessException("Only admins create VPSes for others.")) : caller;
        if (request.ExternalServiceId is not null && !actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only admins give servers a service id.");
        }
        try
        {
            return await CreateCoreAsync(actor, ownerId, request, cancellationToken);
        }
        catch (PanelRefusedException ex)
        {
            await RecordRefusalAsync(actor, null, ownerId, OperationKind.Provision, ex.Message, cancellationToken);
            throw;
        }
    }

    private async Task<VpsAccepted> CreateCoreAsync(Actor actor, Guid ownerId, CreateVpsRequest request, CancellationToken cancellationToken)
    {
        var hostname = (request.Hostname ?? "").Trim().ToLowerInvariant();
        Engine(() => SpecValidator.ValidateHostname(hostname), "Hostname");
        var keys = request.SshKeys ?? [];
        Engine(() => SpecValidator.ValidateAccess(new GuestAccess(request.RootPassword, keys)), "RootPassword");
        var hash = request.RootPassword is null ? null : await new GuestAccessWriter(ProcessRunner.Instance).HashAsync(request.RootPassword, cancellationToken);

        var serviceId = request.ExternalServiceId is null ? null : CheckServiceId(request.ExternalServiceId);

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (serviceId is not null && await db.Vpses.AnyAsync(v => v.ExternalServiceId == serviceId, cancellationToken))
        {
            throw new PanelRefusedException($"A server with the service id {serviceId} exists.");
        }

        if (!await db.Users.AnyAsync(u => u.Id == ownerId, cancellationToken))
        {
            throw new PanelRefusedException("No such customer.", "OwnerId");
        }

        var plan = await db.Plans.AsNoTracking().FirstOrDefaultAsync(p => p.Id == request.PlanId, cancellationToken);
        if (plan is null || (!plan.Active && !actor.IsAdmin))
        {
            throw new PanelRefusedException("Choose one of the plans on offer.", "PlanId");
        }

        var image = await db.Images.AsNoTracking().FirstOrDefaultAsync(i => i.Id == request.ImageId, cancellationToken);
        if (image is null || (!image.Active && !actor.IsAdmin))
        {
            throw new PanelRefusedException("Choose one of the images on offer.", "ImageId");
        }

        if (await db.Vpses.AnyAsync(v => v.OwnerId == ownerId && v.Hostname == hostname && v.DeletedAt == null, cancellationToken))
        {
            throw new PanelRefusedException($"You already have a server called {hostname}.", "Hostname");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);

        // Placement is serialized by locking the node rows: concurrent orders see each other's
        // allocations, so no node goes over its ratios. Addresses are taken with SKIP LOCKED.
        var nodes = await db.Nodes.FromSql($"SELECT * FROM nodes ORDER BY id FOR UPDATE").ToListAsync(cancellationToken);
        var used = await UsedByNodeAsync(db, null, cancellationToken);
        var pools = await db.IpPools.AsNoTracking().Select(p => new { p.Id, p.Network, p.NodeId, p.Family }).ToListAsync(cancellationToken);

        var reasons = new List<string>();
        var candidates = new List<(Node Node, double Free)>();
        foreach (var node in nodes)
        {
            var u = used.GetValueOrDefault(node.Id);
            var memCap = node.MemoryBytes * node.MemoryOvercommit;
            if (!node.IsOnline(now)) { reasons.Add($"{node.Name} is offline"); continue; }
            if (node.Maintenance) { reasons.Add($"{node.Name} is in maintenance"); continue; }
            if (!node.Supports(plan.Approach)) { reasons.Add($"{node.Name} cannot run {plan.Approach} guests"); continue; }
            if (!node.Images.Contains(image.Name)) { reasons.Add($"{node.Name} does not have the image {image.Name}"); continue; }
            if (!HasRoom(node, u, plan.Vcpus, plan.MemoryBytes, plan.DiskBytes))
            {
                reasons.Add($"{node.Name} is full");
                continue;
            }

            candidates.Add((node, (double)((memCap - (u?.Memory ?? 0) - plan.MemoryBytes) / memCap)));
        }

        foreach (var (node, _) in candidates.OrderByDescending(c => c.Free).ThenBy(c => c.Node.Id))
        {
            var network = NetworkOf(node);
            var poolIds = pools.Where(p => p.Family == 4 && (p.NodeId == node.Id || (p.NodeId == null && p.Network == network))).Select(p => p.Id).ToArray();
            if (poolIds.Length == 0)
            {
                reasons.Add($"{node.Name} has no IP pool");
                continue;
            }

            var addressId = await db.Database
                .SqlQuery<long>($"SELECT id AS \"Value\" FROM ip_addresses WHERE vps_id IS NULL AND pool_id = ANY({poolIds}) ORDER BY address LIMIT 1 FOR UPDATE SKIP LOCKED")
                .ToListAsync(cancellationToken);
            if (addressId.Count == 0)
            {
                reasons.Add($"{node.Name}'s IP pools are exhausted");
                continue;
            }

            var engineId = "v" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
            var vps = new Vps
            {
                EngineId = engineId,
                OwnerId = ownerId,
                Hostname = hostname,
                ExternalServiceId = serviceId,
                PlanId = plan.Id,
                ImageId = image.Id,
                NodeId = node.Id,
                MacAddress = MacFor(engineId),
                Vcpus = plan.Vcpus,
                MemoryBytes = plan.MemoryBytes,
                DiskBytes = plan.DiskBytes,
                MaxProcesses = plan.MaxProcesses,
                PortSpeedMbit = plan.PortSpeedMbit,
                Status = VpsStatus.Creating,
                ShouldRun = true,
                CreatedAt = now,
                UpdatedAt = now,
            };
            db.Vpses.Add(vps);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "ix_vpses_external_service_id" })
            {
                throw new PanelRefusedException($"A server with the service id {serviceId} exists.");
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                throw new PanelRefusedException($"You already have a server called {hostname}.", "Hostname");
            }

            await db.IpAddresses.Where(a => a.Id == addressId[0])
                .ExecuteUpdateAsync(s => s.SetProperty(a => a.VpsId, vps.Id).SetProperty(a => a.AllocatedAt, now), cancellationToken);

            // An IPv6 address too when the node's guest network has a prefix.
            var network6 = Network6Of(node);
            var pools6 = pools.Where(p => p.Family == 6 && (p.NodeId == node.Id || (p.NodeId == null && p.Network == network6))).Select(p => p.Id).ToArray();
            if (pools6.Length > 0 && await IpPoolService.AllocateV6Async(db, pools6, vps.Id, now, cancellationToken) is null)
            {
                throw new PanelRefusedException($"Node {node.Name}'s IPv6 prefixes are exhausted.", "PlanId");
            }
            var op = NewOperation(actor, vps, OperationKind.Provision, now,
                JsonSerializer.Serialize(new ProvisionParameters(hash, [.. keys])));
            op.Events.Add(new OperationEvent { At = now, Progress = 0, Message = $"accepted: {plan.Name}, {image.DisplayName}, on node {node.Name}" });
            db.Operations.Add(op);
            await db.SaveChangesAsync(cancellationToken);
            vps.BusyOperationId = op.Id;
            await db.SaveChangesAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);

            await audit.RecordAsync(actor, AuditActions.VpsCreate, $"vps:{vps.Id}", $"{hostname} ({plan.Name}) on {node.Name}", cancellationToken);
            await dispatcher.DispatchAsync(op.Id, cancellationToken);
            return new VpsAccepted(vps.Id, op.Id);
        }

        throw new PanelRefusedException(
            nodes.Count == 0
                ? "No node is registered yet, so no server can be created."
                : $"No node can host this plan right now ({string.Join("; ", reasons.Distinct())}).",
            "PlanId");
    }

    /// <summary>Powers a VPS on.</summary>
    public Task<long> StartAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
        => RequestAsync(actor, vpsId, OperationKind.Start, null, cancellationToken);

    /// <summary>Shuts a VPS down cleanly.</summary>
    public Task<long> StopAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
        => RequestAsync(actor, vpsId, OperationKind.Stop, null, cancellationToken);

    /// <summary>Powers a VPS off at once.</summary>
    public Task<long> ForceStopAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
        => RequestAsync(actor, vpsId, OperationKind.ForceStop, null, cancellationToken);

    /// <summary>Restarts a VPS.</summary>
    public Task<long> RebootAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
        => RequestAsync(actor, vpsId, OperationKind.Reboot, null, cancellationToken);

    /// <summary>Deletes a VPS and frees what it holds.</summary>
    public Task<long> DeleteAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
        => RequestAsync(actor, vpsId, OperationKind.Delete, null, cancellationToken);

    /// <summary>Accepts an operation on a VPS: ownership, state and busy checks, then the job is queued.</summary>
    public Task<long> RequestAsync(Actor actor, int vpsId, OperationKind kind, string? parameters = null, CancellationToken cancellationToken = default)
        => RequestAsync(actor, vpsId, kind, parameters, reserve: null, cancellationToken);

    /// <summary>
    /// As <see cref="RequestAsync(Actor, int, OperationKind, string?, CancellationToken)"/>; <paramref name="reserve"/> runs inside the
    /// accepting transaction (to check and hold capacity elsewhere) and returns a refusal or null.
    /// </summary>
    private async Task<long> RequestAsync(Actor actor, int vpsId, OperationKind kind, string? parameters, Func<PanelDbContext, Vps, CancellationToken, Task<string?>>? reserve, CancellationToken cancellationToken)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var vps = await Visible(db, actor).FirstOrDefaultAsync(v => v.Id == vpsId, cancellationToken);
        if (vps is null)
        {
            throw new PanelNotFoundException($"No server #{vpsId}.");
        }

        string? refusal = null;
        if (vps.BusyOperationId is { } busy && vps.Status is not (VpsStatus.Deleted or VpsStatus.Deleting))
        {
            var what = await db.Operations.Where(o => o.Id == busy).Select(o => o.Kind).FirstOrDefaultAsync(cancellationToken);
            refusal = $"{vps.Hostname} is busy ({what.ToString().ToLowerInvariant()} in progress); try again when it has finished.";
        }

        refusal ??= Refusal(actor, vps, kind);

        if (refusal is not null)
        {
            await RecordRefusalAsync(actor, vps.Id, vps.OwnerId, kind, refusal, cancellationToken);
            throw new PanelRefusedException(refusal);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        if (reserve is not null && await reserve(db, vps, cancellationToken) is { } held)
        {
            await tx.RollbackAsync(cancellationToken);
            await RecordRefusalAsync(actor, vps.Id, vps.OwnerId, kind, held, cancellationToken);
            throw new PanelRefusedException(held);
        }

        var op = NewOperation(actor, vps, kind, now, parameters);
        op.Events.Add(new OperationEvent { At = now, Message = "accepted" });
        db.Operations.Add(op);
        await db.SaveChangesAsync(cancellationToken);

        // Claim the VPS: only one operation at a time, also against a concurrent request elsewhere.
        var claimed = await db.Vpses.Where(v => v.Id == vps.Id && v.BusyOperationId == null)
            .ExecuteUpdateAsync(s => s
                .SetProperty(v => v.BusyOperationId, op.Id)
                .SetProperty(v => v.ShouldRun, v => kind == OperationKind.Start || kind == OperationKind.Reboot || kind == OperationKind.Unsuspend || (v.ShouldRun && kind != OperationKind.Stop && kind != OperationKind.ForceStop && kind != OperationKind.Delete && kind != OperationKind.Suspend))
                .SetProperty(v => v.UpdatedAt, now), cancellationToken);
        if (claimed == 0)
        {
            await tx.RollbackAsync(cancellationToken);
            var message = $"{vps.Hostname} is busy with another operation; try again when it has finished.";
            await RecordRefusalAsync(actor, vps.Id, vps.OwnerId, kind, message, cancellationToken);
            throw new PanelRefusedException(message);
        }

        await tx.CommitAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.VpsOperation, $"vps:{vps.Id}", kind.ToString().ToLowerInvariant(), cancellationToken);
        await dispatcher.DispatchAsync(op.Id, cancellationToken);
        return op.Id;
    }

    /// <summary>One VPS, if the caller may see it.</summary>
    public async Task<VpsView> GetAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var view = await Views(Visible(db, actor).Where(v => v.Id == vpsId))
            .FirstOrDefaultAsync(cancellationToken);
        return view ?? throw new PanelNotFoundException($"No server #{vpsId}.");
    }

    /// <summary>The VPS an external billing system knows by <paramref name="serviceId"/> (deleted ones too), if the caller may see it.</summary>
    public async Task<VpsView> GetByServiceIdAsync(Actor actor, string serviceId, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var view = await Views(Visible(db, actor).Where(v => v.ExternalServiceId == serviceId))
            .FirstOrDefaultAsync(cancellationToken);
        return view ?? throw new PanelNotFoundException($"No server has the service id {serviceId}.");
    }

    /// <summary>Checks an external service id: 1-100 of <c>A-Z a-z 0-9 . _ : -</c>.</summary>
    public static string CheckServiceId(string serviceId)
    {
        var id = (serviceId ?? "").Trim();
        if (id.Length is 0 or > 100 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
        {
            throw new PanelRefusedException("A service id is 1-100 letters, digits, dots, underscores, colons or dashes.", "ServiceId");
        }

        return id;
    }

    /// <summary>The caller's VPSes (admins: everyone's), newest first, without deleted ones.</summary>
    public async Task<IReadOnlyList<VpsView>> ListAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await Views(Visible(db, actor).Where(v => v.DeletedAt == null).OrderByDescending(v => v.Id))
            .ToListAsync(cancellationToken);
    }

    /// <summary>The operations of a VPS, newest first, with their steps.</summary>
    public async Task<IReadOnlyList<OperationView>> OperationsAsync(Actor actor, int vpsId, int take = 50, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (!await Visible(db, actor).AnyAsync(v => v.Id == vpsId, cancellationToken))
        {
            throw new PanelNotFoundException($"No server #{vpsId}.");
        }

        return await OperationViews(db.Operations.Where(o => o.VpsId == vpsId).OrderByDescending(o => o.Id).Take(Math.Clamp(take, 1, 500)))
            .ToListAsync(cancellationToken);
    }

    /// <summary>One operation, if the caller may see it.</summary>
    public async Task<OperationView> GetOperationAsync(Actor actor, long operationId, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await OperationViews(db.Operations.Where(o => o.Id == operationId && (actor.IsAdmin || o.OwnerId == actor.UserId)))
            .FirstOrDefaultAsync(cancellationToken) ?? throw new PanelNotFoundException($"No operation #{operationId}.");
    }

    /// <summary>
    /// The VPSes a caller may see and act on: admins all; a customer their own, except the containers that serve
    /// their websites (a hosting space's runtime, known by its hosting plan's compute plan - also after the space is
    /// cancelled, while the container is being deleted): those are managed through the hosting pages only, so a
    /// customer can neither stop, reinstall nor delete them as servers (and they are not listed as servers).
    /// </summary>
    internal static IQueryable<Vps> Visible(PanelDbContext db, Actor actor)
        => db.Vpses.Where(v => actor.IsAdmin || (v.OwnerId == actor.UserId && !db.HostingPlans.Any(h => h.ComputePlanId == v.PlanId)));

    /// <summary>The MAC of a guest: locally administered, unicast, from its engine id.</summary>
    public static string MacFor(string engineId)
    {
        var h = SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(engineId));
        return $"02:{h[0]:x2}:{h[1]:x2}:{h[2]:x2}:{h[3]:x2}:{h[4]:x2}";
    }

    /// <summary>The IPv6 prefix of a node's guest network, as pools store it, or null.</summary>
    public static string? Network6Of(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (string.IsNullOrEmpty(node.GuestNetwork6))
        {
            return null;
        }

        try
        {
            return IpPoolService.ParseBridge6(node.GuestNetwork6).Prefix.ToString();
        }
        catch (PanelRefusedException)
        {
            return null;
        }
    }

    /// <summary>The subnet (CIDR) of a node's guest network, as pools store it.</summary>
    public static string? NetworkOf(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (string.IsNullOrEmpty(node.GuestNetwork))
        {
            return null;
        }

        try
        {
            return IpPoolService.ParseBridge(node.GuestNetwork).Subnet.ToString();
        }
        catch (PanelRefusedException)
        {
            return null;
        }
    }

    private static string? Refusal(Actor actor, Vps vps, OperationKind kind)
    {
        var s = vps.Status;
        if (s is VpsStatus.Deleted or VpsStatus.Deleting)
        {
            return $"{vps.Hostname} is deleted.";
        }

        if (s == VpsStatus.Suspended && kind != OperationKind.Delete && !actor.IsAdmin)
        {
            return $"{vps.Hostname} is suspended{(vps.StatusReason is { } r ? $" ({r})" : "")}; it can be started again once that is resolved.";
        }

        if (vps.NodeId is null && kind != OperationKind.Delete)
        {
            return $"{vps.Hostname} failed to be created ({vps.StatusReason}); delete it and order again.";
        }

        return kind switch
        {
            OperationKind.Start when s is VpsStatus.Running => $"{vps.Hostname} is already running.",
            OperationKind.Start when s is not (VpsStatus.Stopped or VpsStatus.Error) => $"{vps.Hostname} cannot be started while {s.ToString().ToLowerInvariant()}.",
            OperationKind.Stop or OperationKind.ForceStop when s is VpsStatus.Stopped => $"{vps.Hostname} is already stopped.",
            OperationKind.Stop or OperationKind.Reboot when s is not (VpsStatus.Running or VpsStatus.Error) => $"{vps.Hostname} is not running.",
            OperationKind.ForceStop when s is not (VpsStatus.Running or VpsStatus.Error or VpsStatus.Creating) => $"{vps.Hostname} is not running.",
            OperationKind.Suspend when s is VpsStatus.Suspended => $"{vps.Hostname} is already suspended.",
            OperationKind.Unsuspend when s is not VpsStatus.Suspended => $"{vps.Hostname} is not suspended.",
            OperationKind.Snapshot or OperationKind.Restore or OperationKind.DeleteSnapshot or OperationKind.Reinstall or OperationKind.Resize or OperationKind.ResetAccess
                or OperationKind.RestoreBackup or OperationKind.DeleteBackup or OperationKind.Throttle or OperationKind.Unthrottle
                when s is not (VpsStatus.Running or VpsStatus.Stopped or VpsStatus.Error or VpsStatus.Suspended) => $"{vps.Hostname} cannot be changed while {s.ToString().ToLowerInvariant()}.",
            OperationKind.Backup or OperationKind.Migrate
                when s is not (VpsStatus.Running or VpsStatus.Stopped or VpsStatus.Suspended) => $"{vps.Hostname} cannot be {(kind == OperationKind.Backup ? "backed up" : "moved")} while {s.ToString().ToLowerInvariant()}.",
            _ => null,
        };
    }

    /// <summary>
    /// What each node's VPSes take (CPUs, memory, disk), counting VPSes moving to a node there too;
    /// <paramref name="except"/> leaves one VPS out.
    /// </summary>
    internal static async Task<Dictionary<int, NodeUse>> UsedByNodeAsync(PanelDbContext db, int? except, CancellationToken cancellationToken)
    {
        var live = db.Vpses.Where(v => v.Status != VpsStatus.Deleted && v.Id != except);
        var placed = await live.Where(v => v.NodeId != null).GroupBy(v => v.NodeId!.Value)
            .Select(g => new { NodeId = g.Key, Cpus = g.Sum(v => v.Vcpus), Memory = g.Sum(v => v.MemoryBytes), Disk = g.Sum(v => v.DiskBytes) })
            .ToListAsync(cancellationToken);
        var moving = await live.Where(v => v.MigrationTargetNodeId != null).GroupBy(v => v.MigrationTargetNodeId!.Value)
            .Select(g => new { NodeId = g.Key, Cpus = g.Sum(v => v.Vcpus), Memory = g.Sum(v => v.MemoryBytes), Disk = g.Sum(v => v.DiskBytes) })
            .ToListAsync(cancellationToken);
        var use = new Dictionary<int, NodeUse>();
        foreach (var u in placed.Concat(moving))
        {
            var had = use.GetValueOrDefault(u.NodeId) ?? new NodeUse(0, 0, 0);
            use[u.NodeId] = new NodeUse(had.Cpus + u.Cpus, had.Memory + u.Memory, had.Disk + u.Disk);
        }

        return use;
    }

    /// <summary>Whether <paramref name="node"/> has room for one more VPS of these sizes under its ratios.</summary>
    internal static bool HasRoom(Node node, NodeUse? used, int vcpus, long memoryBytes, long diskBytes)
        => (used?.Cpus ?? 0) + vcpus <= node.CpuCount * node.CpuOvercommit
           && (used?.Memory ?? 0) + memoryBytes <= node.MemoryBytes * node.MemoryOvercommit
           && (used?.Disk ?? 0) + diskBytes <= node.DiskBytes * node.DiskOvercommit;

    private static Operation NewOperation(Actor actor, Vps vps, OperationKind kind, DateTime now, string? parameters) => new()
    {
        VpsId = vps.Id,
        OwnerId = vps.OwnerId,
        NodeId = vps.NodeId,
        ActorId = actor.UserId,
        ActorName = actor.Name,
        Kind = kind,
        Status = OperationStatus.Queued,
        Parameters = parameters,
        CreatedAt = now,
    };

    private async Task RecordRefusalAsync(Actor actor, int? vpsId, Guid ownerId, OperationKind kind, string message, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var op = new Operation
        {
            VpsId = vpsId,
            OwnerId = ownerId,
            ActorId = actor.UserId,
            ActorName = actor.Name,
            Kind = kind,
            Status = OperationStatus.Refused,
            Error = message,
            CreatedAt = now,
            FinishedAt = now,
        };
        op.Events.Add(new OperationEvent { At = now, Message = "refused: " + message, IsError = true });
        db.Operations.Add(op);
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.VpsRefused, vpsId is null ? null : $"vps:{vpsId}", $"{kind.ToString().ToLowerInvariant()}: {message}", cancellationToken);
    }

    private static void Engine(Action validate, string field)
    {
        try
        {
            validate();
        }
        catch (EngineException ex)
        {
            throw new PanelRefusedException(ex.Message, ex.Field?.Replace("Access.", "", StringComparison.Ordinal) ?? field);
        }
    }

    private static IQueryable<VpsView> Views(IQueryable<Vps> q) => q.Select(v => new VpsView(
        v.Id, v.Hostname, v.Status, v.StatusReason, v.Plan.Name, v.Plan.Approach, v.Image.DisplayName,
        v.Node == null ? null : v.Node.Name,
        v.Addresses.OrderBy(a => a.Address).Select(a => a.Address.ToString()).ToList(),
        v.Vcpus, v.MemoryBytes, v.DiskBytes, v.BusyOperationId, v.OwnerId, v.CreatedAt, v.ExternalServiceId, v.PortSpeedMbit, v.ThrottledUntil));

    private static IQueryable<OperationView> OperationViews(IQueryable<Operation> q) => q.Select(o => new OperationView(
        o.Id, o.VpsId, o.Kind, o.Status, o.Progress, o.Step, o.Error, o.ActorName, o.Attempts, o.CreatedAt, o.FinishedAt,
        o.Events.OrderBy(e => e.Id).Select(e => new OperationEventView(e.At, e.Progress, e.Message, e.IsError)).ToList()));
}

/// <summary>What the provision job needs beyond the VPS row; the hash is cleared when it is done.</summary>
/// <param name="RootPasswordHash">SHA-512 crypt hash of the root password, or null.</param>
/// <param name="SshKeys">Root's SSH keys.</param>
public sealed record ProvisionParameters(string? RootPasswordHash, IReadOnlyList<string> SshKeys);

/// <summary>What a node's VPSes take.</summary>
/// <param name="Cpus">vCPUs.</param>
/// <param name="Memory">Memory in bytes.</param>
/// <param name="Disk">Disk in bytes.</param>
public sealed record NodeUse(long Cpus, long Memory, long Disk);
