using System.Text.Json;

namespace Panel.Hypervisor.Drivers.Qemu.Qmp;

/// <summary>An asynchronous QMP event (<c>{"event": …, "data": …, "timestamp": …}</c>).</summary>
/// <param name="Name">The event name, e.g. <c>SHUTDOWN</c> (see <see cref="QmpEventNames"/>).</param>
/// <param name="Data">The event's <c>data</c> object (an empty object when QEMU sent none).</param>
/// <param name="Timestamp">When QEMU emitted it (when it arrived, if QEMU gave no time).</param>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp);

/// <summary>The names of the QMP events the QEMU driver follows.</summary>
public static class QmpEventNames
{
    /// <summary>QEMU is exiting (guest powered off, <c>quit</c>, or a signal); <c>data.reason</c> says why.</summary>
    public const string Shutdown = "SHUTDOWN";

    /// <summary>The guest asked for an ACPI power-down (<c>system_powerdown</c>).</summary>
    public const string Powerdown = "POWERDOWN";

    /// <summary>The guest was reset.</summary>
    public const string Reset = "RESET";

    /// <summary>The vCPUs were paused.</summary>
    public const string Stop = "STOP";

    /// <summary>The vCPUs run again.</summary>
    public const string Resume = "RESUME";
}
