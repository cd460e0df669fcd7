using Panel.Hypervisor.Instances;

namespace Panel.Core.Consoles;

/// <summary>Where a VPS's console is: its node, its guest's engine id and the driver's approach.</summary>
/// <param name="VpsId">The VPS.</param>
/// <param name="Hostname">Its host name.</param>
/// <param name="OwnerId">Its owner.</param>
/// <param name="NodeName">The node that runs the guest.</param>
/// <param name="EngineId">The guest's id in that node's engine.</param>
/// <param name="Approach">The plan's approach, which picks the driver.</param>
public sealed record ConsoleTarget(int VpsId, string Hostname, Guid OwnerId, string NodeName, string EngineId, VirtualizationKind Approach);
