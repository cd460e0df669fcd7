namespace Panel.Hypervisor.Instances;

/// <summary>Everything needed to create a VPS. Validated by <see cref="SpecValidator"/> before any host change.</summary>
/// <param name="Id">Engine id: lower-case letters, digits and dashes, 2-32 characters, starting with a letter.</param>
/// <param name="Hostname">The guest's host name (RFC 1123).</param>
/// <param name="Image">The image name, e.g. <c>busybox</c> or <c>debian-12</c>.</param>
/// <param name="Limits">CPU, memory, disk, processes and port speed.</param>
/// <param name="Network">The guest's MAC and addresses on the node bridge.</param>
/// <param name="Access">Root password and SSH keys written into the guest.</param>
public sealed record InstanceSpec(
    string Id,
    string Hostname,
    string Image,
    InstanceLimits Limits,
    NetworkSpec Network,
    GuestAccess Access);

/// <summary>Resource limits of one VPS.</summary>
/// <param name="Vcpus">CPUs the guest sees and may use (cpuset and CFS quota).</param>
/// <param name="MemoryBytes">Hard memory limit.</param>
/// <param name="DiskBytes">Disk size: a hard quota.</param>
/// <param name="MaxProcesses">Process (task) limit: stops fork bombs.</param>
/// <param name="CpuWeight">Relative CPU share against neighbours (1-10000, default 100).</param>
/// <param name="PortSpeedMbit">Network speed cap in Mbit/s each way; null for unlimited.</param>
public sealed record InstanceLimits(
    int Vcpus,
    long MemoryBytes,
    long DiskBytes,
    int MaxProcesses = 512,
    int CpuWeight = 100,
    int? PortSpeedMbit = null);

/// <summary>A guest's place on the node bridge.</summary>
/// <param name="MacAddress">A unicast, locally administered MAC, e.g. <c>02:00:0a:fa:00:02</c>.</param>
/// <param name="IPv4">The guest address inside the node's guest network, e.g. <c>10.250.0.2</c>.</param>
/// <param name="IPv6">An optional IPv6 address inside the node's IPv6 prefix.</param>
public sealed record NetworkSpec(string MacAddress, string IPv4, string? IPv6 = null);

/// <summary>How the owner gets into the guest.</summary>
/// <param name="RootPassword">The root password (hashed before it is written; never stored in clear), or null to leave root without one.</param>
/// <param name="SshKeys">OpenSSH public keys for root's <c>authorized_keys</c>.</param>
/// <param name="RootPasswordHash">Instead of <paramref name="RootPassword"/>: its SHA-512 crypt hash (<c>$6$…</c>), made by the panel so the clear password never reaches a job.</param>
public sealed record GuestAccess(string? RootPassword, IReadOnlyList<string> SshKeys, string? RootPasswordHash = null)
{
    /// <summary>No password, no keys.</summary>
    public static GuestAccess None { get; } = new(null, []);
}
