using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Hosting;

namespace Panel.Core.Services;

/// <summary>A tenant's hosting plan over its life: moving to another plan, and cancelling the hosting.</summary>
public sealed partial class HostingService
{
    /// <summary>
    /// Moves the caller's hosting to another plan on offer. The new plan must hold what the tenant has (its
    /// site count and content) and, as for any container, its disk can only grow. The container is resized to the
    /// plan's compute plan through the ordinary resize operation (billing prorates it to the hour like any plan
    /// change); the space takes the new plan once that operation is accepted. Refusals change nothing.
    /// </summary>
    public async Task<HostingSpaceView> ChangePlanAsync(Actor actor, int planId, CancellationToken cancellationToken = default)
    {
        var ownerId = Require.User(actor);
        try
        {
            await ChangePlanCoreAsync(actor, ownerId, planId, cancellationToken);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.HostingRefused, $"user:{ownerId}", "change plan: " + ex.Message, cancellationToken);
            throw;
        }

        return (await SpaceAsync(actor, cancellationToken))!;
    }

    private async Task ChangePlanCoreAsync(Actor actor, Guid ownerId, int planId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var space = await db.HostingSpaces.Include(s => s.Plan).Include(s => s.Vps).FirstOrDefaultAsync(s => s.OwnerId == ownerId, cancellationToken)
            ?? throw new PanelRefusedException("You have no hosting yet: your first website sets it up with the plan you choose.", "PlanId");
        var plan = await db.HostingPlans.AsNoTracking().FirstOrDefaultAsync(p => p.Id == planId && (p.Active || actor.IsAdmin), cancellationToken)
            ?? throw new PanelRefusedException("Choose one of the hosting plans on offer.", "PlanId");
        if (plan.Id == space.PlanId)
        {
            throw new PanelRefusedException($"Your hosting already has the plan {plan.Name}.", "PlanId");
        }

        var container = space.Vps is { } v && v.Status is not (VpsStatus.Deleted or VpsStatus.Deleting) && v.NodeId is not null ? v : null;
        if (container?.Status == VpsStatus.Suspended)
        {
            throw new PanelRefusedException($"Your hosting is suspended ({container.StatusReason ?? "account suspended"}); the plan can change once that is resolved.", "PlanId");
        }

        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);

        // The space row serializes against a site being added meanwhile: the count below stays true until commit.
        await db.Database.ExecuteSqlAsync($"SELECT id FROM hosting_spaces WHERE id = {space.Id} FOR UPDATE", cancellationToken);
        var sites = await db.Sites.Where(s => s.SpaceId == space.Id).CountAsync(cancellationToken);
        var content = await db.Sites.Where(s => s.SpaceId == space.Id).SumAsync(s => s.ContentBytes, cancellationToken);
        if (sites > plan.MaxSites)
        {
            throw new PanelRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"{plan.Name} allows {plan.MaxSites} site{(plan.MaxSites == 1 ? "" : "s")} and you have {sites}; delete {sites - plan.MaxSites} first."), "PlanId");
        }

        if (content > plan.DiskBytes)
        {
            throw new PanelRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"{plan.Name} has {plan.DiskBytes >> 20} MiB of disk and your sites' content takes {(content + (1 << 20) - 1) >> 20} MiB."), "PlanId");
        }

        if (container is not null && plan.DiskBytes < container.DiskBytes)
        {
            throw new PanelRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"{plan.Name} has a smaller disk ({plan.DiskBytes >> 20} MiB) than your hosting has now ({container.DiskBytes >> 20} MiB); a hosting disk can only grow."), "PlanId");
        }

        if (container is not null)
        {
            try
            {
                await vpses.ResizeAsync(Actor.System, container.Id, plan.ComputePlanId, cancellationToken);
            }
            catch (PanelRefusedException ex)
            {
                throw new PanelRefusedException($"Your hosting cannot move to {plan.Name} right now: {ex.Message}", "PlanId");
            }
        }

        var from = space.Plan.Name;
        space.PlanId = plan.Id;
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.HostingPlanChanged, $"user:{ownerId}", $"hosting plan {from} → {plan.Name}", cancellationToken);
        signal.Notify(); // a bigger traffic allowance lifts the bandwidth page at once
    }

    /// <summary>
    /// Cancels a tenant's hosting (the tenant; admins for anyone, by <paramref name="ownerId"/>): the container's
    /// deletion is requested (it is billed up to then, like any deleted server), and the space with every site, name,
    /// certificate and traffic row goes at once, so the names are free again and the edge answers them as unknown.
    /// Returns the names removed. Refused, with nothing changed, while the container is busy with another operation.
    /// </summary>
    public async Task<IReadOnlyList<string>> CancelAsync(Actor actor, Guid? ownerId = null, CancellationToken cancellationToken = default)
    {
        var caller = Require.User(actor);
        var owner = ownerId ?? caller;
        if (owner != caller)
        {
            Require.Admin(actor);
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var space = await db.HostingSpaces.Include(s => s.Vps).AsNoTracking().FirstOrDefaultAsync(s => s.OwnerId == owner, cancellationToken)
            ?? throw new PanelRefusedException("There is no hosting to cancel.");
        if (space.Vps is { } container && container.Status is not (VpsStatus.Deleted or VpsStatus.Deleting))
        {
            try
            {
                await vpses.DeleteAsync(Actor.System, container.Id, cancellationToken);
            }
            catch (PanelRefusedException ex)
            {
                await audit.RecordAsync(actor, AuditActions.HostingRefused, $"user:{owner}", "cancel: " + ex.Message, cancellationToken);
                throw new PanelRefusedException($"Your hosting cannot be cancelled right now: {ex.Message}");
            }
        }

        var reason = owner == caller ? "cancelled by the customer" : "cancelled by an admin";
        return await RemoveSpaceAsync(actor, owner, reason, AuditActions.HostingCancelled, cancellationToken);
    }
}
