using Microsoft.EntityFrameworkCore;
using Panel.Core.Consoles;
using Panel.Core.Domain.Compute;

namespace Panel.Core.Services;

// The console: who may open it, and where the guest is.
public sealed partial class VpsService
{
    /// <summary>
    /// Where the console of a VPS is, if the caller may open it: the owner or an admin, and the VPS
    /// running. Someone else's VPS is "not found" (its existence is not revealed); a VPS that is
    /// not running is refused with its state. Nothing is recorded: <see cref="ConsoleService"/> audits
    /// the opening.
    /// </summary>
    public async Task<ConsoleTarget> GetConsoleTargetAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var vps = await Visible(db, actor).AsNoTracking()
            .Where(v => v.Id == vpsId)
            .Select(v => new
            {
                v.Id,
                v.Hostname,
                v.EngineId,
                v.Status,
                v.OwnerId,
                v.Plan.Approach,
                NodeName = v.Node == null ? null : v.Node.Name,
            })
            .FirstOrDefaultAsync(cancellationToken)
            ?? throw new PanelNotFoundException($"No server #{vpsId}.");

        var refusal = vps.Status switch
        {
            VpsStatus.Running when vps.NodeName is null => $"{vps.Hostname} is on no node; its console cannot be opened.",
            VpsStatus.Running => null,
            VpsStatus.Deleted or VpsStatus.Deleting => $"{vps.Hostname} is deleted.",
            VpsStatus.Suspended => $"{vps.Hostname} is suspended; its console opens once it runs again.",
            VpsStatus.Creating => $"{vps.Hostname} is still being created; its console opens once it runs.",
            _ => $"{vps.Hostname} is not running ({vps.Status.ToString().ToLowerInvariant()}); start it to use its console.",
        };
        if (refusal is not null)
        {
            throw new PanelRefusedException(refusal);
        }

        return new ConsoleTarget(vps.Id, vps.Hostname, vps.OwnerId, vps.NodeName!, vps.EngineId, vps.Approach);
    }
}
