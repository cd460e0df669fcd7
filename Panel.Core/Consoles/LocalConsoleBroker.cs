using Microsoft.Extensions.Logging;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Consoles;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Consoles;

/// <summary>
/// Consoles of the guests of this process's node (<c>Panel:Jobs:NodeName</c>, whose engine is
/// embedded here): the driver of the VPS's approach opens it. A guest on another node is refused:
/// nothing relays consoles between nodes yet.
/// </summary>
public sealed class LocalConsoleBroker(DriverRegistry drivers, PanelOptions options, ILogger<LocalConsoleBroker> logger) : IConsoleBroker
{
    /// <summary>The largest terminal accepted (columns and rows are clamped to it).</summary>
    public const int MaxColumns = 500, MaxRows = 200;

    /// <inheritdoc />
    public async Task<IConsoleSession> OpenAsync(ConsoleTarget target, int columns, int rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!options.Jobs.RunServer || !string.Equals(target.NodeName, options.Jobs.NodeName, StringComparison.Ordinal))
        {
            throw new PanelRefusedException($"The console of a server on node {target.NodeName} is not reachable from this panel yet.");
        }

        try
        {
            var driver = drivers.For(target.Approach);
            return await driver.OpenConsoleAsync(
                new ConsoleOptions(target.EngineId, Math.Clamp(columns, 10, MaxColumns), Math.Clamp(rows, 5, MaxRows)),
                cancellationToken);
        }
        catch (EngineException ex)
        {
            // The engine's own words name host paths and tools: they go to the log, the user gets a sentence.
            logger.LogWarning(ex, "The console of VPS {VpsId} ({EngineId}) could not be opened", target.VpsId, target.EngineId);
            throw new PanelRefusedException(ex.Code switch
            {
                EngineErrorCode.InvalidState => $"{target.Hostname} is not running on its node; its console cannot be opened.",
                EngineErrorCode.NotFound => $"{target.Hostname} is not on its node; its console cannot be opened.",
                _ => $"The console of {target.Hostname} could not be opened; try again in a moment.",
            }, ex);
        }
    }
}
