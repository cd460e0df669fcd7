using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Hypervisor;
using Panel.Hypervisor.Guest;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Processes;

namespace Panel.Core.Services;

/// <summary>A snapshot as pages list it.</summary>
/// <param name="Name">Its name.</param>
/// <param name="CreatedAt">When (UTC).</param>
/// <param name="SizeBytes">Size on the node.</param>
public sealed record SnapshotView(string Name, DateTime CreatedAt, long SizeBytes);

/// <summary>Parameters of snapshot, restore and delete-snapshot operations.</summary>
/// <param name="Name">The snapshot.</param>
public sealed record SnapshotParameters(string Name);

/// <summary>Parameters of a reinstall.</summary>
/// <param name="ImageId">The image to install.</param>
/// <param name="RootPasswordHash">New root password hash, or null.</param>
/// <param name="SshKeys">Root's SSH keys.</param>
public sealed record ReinstallParameters(int ImageId, string? RootPasswordHash, IReadOnlyList<string> SshKeys);

/// <summary>Parameters of a plan change.</summary>
/// <param name="PlanId">The new plan.</param>
public sealed record ResizeParameters(int PlanId);

/// <summary>Parameters of an access reset (and of suspensions: the reason).</summary>
/// <param name="RootPasswordHash">New root password hash, or null.</param>
/// <param name="SshKeys">Root's SSH keys.</param>
public sealed record AccessParameters(string? RootPasswordHash, IReadOnlyList<string> SshKeys);

/// <summary>Parameters of a suspension.</summary>
/// <param name="Reason">Why (shown to the owner).</param>
public sealed record SuspendParameters(string Reason);

// Managing an existing VPS: snapshots, reinstall, plan change, access reset, suspension.
public sealed partial class VpsService
{
    /// <summary>The most snapshots one VPS keeps.</summary>
    public const int MaxSnapshots = 5;

    /// <summary>The VPS's snapshots, oldest first.</summary>
    public async Task<IReadOnlyList<SnapshotView>> SnapshotsAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.VpsSnapshots.Where(s => s.VpsId == vpsId).OrderBy(s => s.CreatedAt)
            .Select(s => new SnapshotView(s.Name, s.CreatedAt, s.SizeBytes)).ToListAsync(cancellationToken);
    }

    /// <summary>Takes a snapshot called <paramref name="name"/>.</summary>
    public async Task<long> SnapshotAsync(Actor actor, int vpsId, string name, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        name = (name ?? "").Trim();
        try
        {
            SpecValidator.ValidateSnapshotName(name);
        }
        catch (EngineException ex)
        {
            await RefuseAsync(actor, vpsId, OperationKind.Snapshot, ex.Message, cancellationToken, "Name");
        }

        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var existing = await db.VpsSnapshots.Where(s => s.VpsId == vpsId).Select(s => s.Name).ToListAsync(cancellationToken);
            var refusal = existing.Contains(name, StringComparer.Ordinal) ? $"A snapshot called {name} exists."
                : existing.Count >= MaxSnapshots ? $"A server keeps at most {MaxSnapshots} snapshots; delete one first." : null;
            if (refusal is not null)
            {
                await RefuseAsync(actor, vpsId, OperationKind.Snapshot, refusal, cancellationToken);
            }
        }

        return await RequestAsync(actor, vpsId, OperationKind.Snapshot, JsonSerializer.Serialize(new SnapshotParameters(name)), cancellationToken);
    }

    /// <summary>Puts the disk back to a snapshot (the guest is stopped for it and started again if it ran).</summary>
    public Task<long> RestoreSnapshotAsync(Actor actor, int vpsId, string name, CancellationToken cancellationToken = default)
        => SnapshotOperationAsync(actor, vpsId, name, OperationKind.Restore, cancellationToken);

    /// <summary>Removes a snapshot.</summary>
    public Task<long> DeleteSnapshotAsync(Actor actor, int vpsId, string name, CancellationToken cancellationToken = default)
        => SnapshotOperationAsync(actor, vpsId, name, OperationKind.DeleteSnapshot, cancellationToken);

    /// <summary>Reinstalls with an image: the disk is wiped; address, plan and snapshots' rows stay (snapshots go).</summary>
    public async Task<long> ReinstallAsync(Actor actor, int vpsId, int imageId, string? rootPassword, IReadOnlyList<string>? sshKeys, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        var access = await AccessAsync(actor, vpsId, OperationKind.Reinstall, rootPassword, sshKeys, cancellationToken);
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var image = await db.Images.AsNoTracking().FirstOrDefaultAsync(i => i.Id == imageId, cancellationToken);
            if (image is null || (!image.Active && !actor.IsAdmin))
            {
                await RefuseAsync(actor, vpsId, OperationKind.Reinstall, "Choose one of the images on offer.", cancellationToken, "ImageId");
            }
        }

        return await RequestAsync(actor, vpsId, OperationKind.Reinstall,
            JsonSerializer.Serialize(new ReinstallParameters(imageId, access.RootPasswordHash, access.SshKeys)), cancellationToken);
    }

    /// <summary>Changes plan (same approach; the disk can only grow). Capacity on its node is checked first.</summary>
    public async Task<long> ResizeAsync(Actor actor, int vpsId, int planId, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var vps = await db.Vpses.Include(v => v.Plan).Include(v => v.Node).AsNoTracking().FirstAsync(v => v.Id == vpsId, cancellationToken);
        var plan = await db.Plans.AsNoTracking().FirstOrDefaultAsync(p => p.Id == planId, cancellationToken);
        string? refusal = plan is null || (!plan.Active && !actor.IsAdmin) ? "Choose one of the plans on offer."
            : plan.Id == vps.PlanId ? $"{vps.Hostname} already has the plan {plan.Name}."
            : plan.Approach != vps.Plan.Approach ? $"{plan.Name} is a {plan.Approach} plan; {vps.Hostname} can only move between {vps.Plan.Approach} plans."
            : plan.DiskBytes < vps.DiskBytes ? $"{plan.Name} has a smaller disk; disks can only grow."
            : null;
        if (refusal is null && vps.Node is { } node)
        {
            var used = (await UsedByNodeAsync(db, vpsId, cancellationToken)).GetValueOrDefault(node.Id);
            if (!HasRoom(node, used, plan!.Vcpus, plan.MemoryBytes, plan.DiskBytes))
            {
                refusal = $"Node {node.Name} has no room for {plan.Name} right now.";
            }
        }

        if (refusal is not null)
        {
            await RefuseAsync(actor, vpsId, OperationKind.Resize, refusal, cancellationToken, "PlanId");
        }

        return await RequestAsync(actor, vpsId, OperationKind.Resize, JsonSerializer.Serialize(new ResizeParameters(planId)), cancellationToken);
    }

    /// <summary>Sets a new root password and/or SSH keys inside the guest.</summary>
    public async Task<long> ResetAccessAsync(Actor actor, int vpsId, string? rootPassword, IReadOnlyList<string>? sshKeys, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        var access = await AccessAsync(actor, vpsId, OperationKind.ResetAccess, rootPassword, sshKeys, cancellationToken);
        return await RequestAsync(actor, vpsId, OperationKind.ResetAccess, JsonSerializer.Serialize(new AccessParameters(access.RootPasswordHash, access.SshKeys)), cancellationToken);
    }

    /// <summary>
    /// Renames a VPS: a valid host name, unique among the owner's servers. The panel's name changes at
    /// once; the guest takes it as its host name at its next reinstall. Audited; a refusal changes nothing.
    /// </summary>
    public async Task RenameAsync(Actor actor, int vpsId, string hostname, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        var name = (hostname ?? "").Trim().ToLowerInvariant();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var vps = await db.Vpses.FirstAsync(v => v.Id == vpsId, cancellationToken);
        string? refusal = null;
        try
        {
            SpecValidator.ValidateHostname(name);
        }
        catch (EngineException ex)
        {
            refusal = ex.Message;
        }

        refusal ??= vps.Status is VpsStatus.Deleted or VpsStatus.Deleting ? $"{vps.Hostname} is deleted."
            : vps.Status == VpsStatus.Creating ? $"{vps.Hostname} is still being created; rename it once it is ready."
            : name == vps.Hostname ? $"The server is already called {name}."
            : await db.Vpses.AnyAsync(v => v.OwnerId == vps.OwnerId && v.Id != vps.Id && v.Hostname == name && v.DeletedAt == null, cancellationToken)
                ? $"You already have a server called {name}." : null;
        if (refusal is null)
        {
            var old = vps.Hostname;
            vps.Hostname = name;
            vps.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                await audit.RecordAsync(actor, AuditActions.VpsRenamed, $"vps:{vpsId}", $"{old} -> {name}", cancellationToken);
                return;
            }
            catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
            {
                refusal = $"You already have a server called {name}.";
            }
        }

        await audit.RecordAsync(actor, AuditActions.VpsRefused, $"vps:{vpsId}", $"rename: {refusal}", cancellationToken);
        throw new PanelRefusedException(refusal, "Hostname");
    }

    /// <summary>Stops a VPS and locks it against its owner (billing, abuse). Admins only.</summary>
    public async Task<long> SuspendAsync(Actor actor, int vpsId, string reason, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        reason = string.IsNullOrWhiteSpace(reason) ? "suspended by an administrator" : reason.Trim();
        return await RequestAsync(actor, vpsId, OperationKind.Suspend, JsonSerializer.Serialize(new SuspendParameters(reason[..Math.Min(reason.Length, 500)])), cancellationToken);
    }

    /// <summary>Lifts a suspension and starts the VPS again. Admins only.</summary>
    public Task<long> UnsuspendAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        return RequestAsync(actor, vpsId, OperationKind.Unsuspend, null, cancellationToken);
    }

    private async Task<long> SnapshotOperationAsync(Actor actor, int vpsId, string name, OperationKind kind, CancellationToken cancellationToken)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            if (!await db.VpsSnapshots.AnyAsync(s => s.VpsId == vpsId && s.Name == name, cancellationToken))
            {
                await RefuseAsync(actor, vpsId, kind, $"There is no snapshot called {name}.", cancellationToken, "Name");
            }
        }

        return await RequestAsync(actor, vpsId, kind, JsonSerializer.Serialize(new SnapshotParameters(name)), cancellationToken);
    }

    private async Task<GuestAccess> AccessAsync(Actor actor, int vpsId, OperationKind kind, string? rootPassword, IReadOnlyList<string>? sshKeys, CancellationToken cancellationToken)
    {
        var keys = sshKeys ?? [];
        try
        {
            SpecValidator.ValidateAccess(new GuestAccess(rootPassword, keys));
        }
        catch (EngineException ex)
        {
            await RefuseAsync(actor, vpsId, kind, ex.Message, cancellationToken, ex.Field?.Replace("Access.", "", StringComparison.Ordinal));
        }

        var hash = rootPassword is null ? null : await new GuestAccessWriter(ProcessRunner.Instance).HashAsync(rootPassword, cancellationToken);
        return new GuestAccess(null, keys.Select(k => SshPublicKey.TryParse(k, out var n, out _) ? n : k).ToList(), hash);
    }

    private async Task RequireVisibleAsync(Actor actor, int vpsId, CancellationToken cancellationToken)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (!await Visible(db, actor).AnyAsync(v => v.Id == vpsId, cancellationToken))
        {
            throw new PanelNotFoundException($"No server #{vpsId}.");
        }
    }

    private async Task RefuseAsync(Actor actor, int vpsId, OperationKind kind, string message, CancellationToken cancellationToken, string? field = null)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var owner = await db.Vpses.Where(v => v.Id == vpsId).Select(v => v.OwnerId).FirstAsync(cancellationToken);
        await RecordRefusalAsync(actor, vpsId, owner, kind, message, cancellationToken);
        throw new PanelRefusedException(message, field);
    }
}
