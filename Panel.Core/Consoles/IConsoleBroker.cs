using Panel.Hypervisor.Consoles;

namespace Panel.Core.Consoles;

/// <summary>
/// Opens the console of a guest wherever it runs. Callers have already checked who may open it
/// (<see cref="Services.ConsoleService"/>). Today's implementation, <see cref="LocalConsoleBroker"/>,
/// reaches the guests of this process's own node; a relay to other nodes' agents can take its place.
/// </summary>
public interface IConsoleBroker
{
    /// <summary>
    /// Opens <paramref name="target"/>'s console with the terminal's size. Throws
    /// <see cref="Services.PanelRefusedException"/> with a readable reason when it cannot.
    /// </summary>
    Task<IConsoleSession> OpenAsync(ConsoleTarget target, int columns, int rows, CancellationToken cancellationToken = default);
}
