using System.Text.Json.Serialization;

namespace Panel.Hypervisor.Drivers.Qemu.Qmp;

/// <summary>The answer to <c>query-status</c>.</summary>
/// <param name="Running">Whether the vCPUs are running.</param>
/// <param name="Status">QEMU's run state, e.g. <c>running</c>, <c>paused</c>, <c>shutdown</c>, <c>prelaunch</c>, <c>inmigrate</c>.</param>
public sealed record QmpStatus(
    [property: JsonPropertyName("running")] bool Running,
    [property: JsonPropertyName("status")] string Status);
