using Panel.Core.Consoles;
using Panel.Core.Domain.Audit;
using Panel.Hypervisor.Consoles;

namespace Panel.Core.Services;

/// <summary>A console opened for a caller: where it leads, and the live session (the caller disposes it).</summary>
/// <param name="Target">The VPS's console target.</param>
/// <param name="Session">The byte stream to the guest's console.</param>
public sealed record OpenedConsole(ConsoleTarget Target, IConsoleSession Session);

/// <summary>
/// The web console's use case: checks who asks (<see cref="VpsService.GetConsoleTargetAsync"/>: the
/// owner or an admin, the VPS running), opens the guest's console through the
/// <see cref="IConsoleBroker"/>, and records the opening in the audit log.
/// </summary>
public sealed class ConsoleService(VpsService vpses, IConsoleBroker broker, AuditLog audit)
{
    /// <summary>Opens the console of <paramref name="vpsId"/> for <paramref name="actor"/> with the terminal's size.</summary>
    public async Task<OpenedConsole> OpenAsync(Actor actor, int vpsId, int columns, int rows, CancellationToken cancellationToken = default)
    {
        var target = await vpses.GetConsoleTargetAsync(actor, vpsId, cancellationToken);
        var session = await broker.OpenAsync(target, columns, rows, cancellationToken);
        try
        {
            await audit.RecordAsync(actor, AuditActions.VpsConsole, $"vps:{target.VpsId}", $"console of {target.Hostname} opened (node {target.NodeName})", cancellationToken);
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }

        return new OpenedConsole(target, session);
    }

    /// <summary>Checks again that <paramref name="actor"/> may use the console of <paramref name="vpsId"/> (throws as opening does).</summary>
    public Task CheckAsync(Actor actor, int vpsId, CancellationToken cancellationToken = default)
        => vpses.GetConsoleTargetAsync(actor, vpsId, cancellationToken);
}
