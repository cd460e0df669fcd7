namespace Panel.Core.Domain.Nodes;

/// <summary>
/// A physical server that runs the engine under its own Hangfire queue (<c>node-NAME</c>). The
/// panel's own process is the first node; <c>./panel node</c> adds more. A node reports itself:
/// capacity, driver status and a heartbeat.
/// </summary>
public sealed class Node
{
    /// <summary>How long without a heartbeat before a node counts as offline.</summary>
    public static readonly TimeSpan OfflineAfter = TimeSpan.FromSeconds(45);

    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>Unique name (lower-case letters, digits, dashes); its job queue is <c>node-NAME</c>.</summary>
    public string Name { get; set; } = "";

    /// <summary>The host name of the machine it runs on.</summary>
    public string Hostname { get; set; } = "";

    /// <summary>Logical CPUs of the host.</summary>
    public int CpuCount { get; set; }

    /// <summary>Physical memory of the host.</summary>
    public long MemoryBytes { get; set; }

    /// <summary>Space for VPS disks on the engine's state filesystem.</summary>
    public long DiskBytes { get; set; }

    /// <summary>vCPUs that may be sold per physical CPU.</summary>
    public decimal CpuOvercommit { get; set; } = 4m;

    /// <summary>Memory that may be sold per byte of RAM.</summary>
    public decimal MemoryOvercommit { get; set; } = 1m;

    /// <summary>Disk that may be sold per byte of space (sparse disks make more than 1 possible).</summary>
    public decimal DiskOvercommit { get; set; } = 1m;

    /// <summary>Drained by an admin: keeps its VPSes, gets no new ones.</summary>
    public bool Maintenance { get; set; }

    /// <summary>The last heartbeat (UTC).</summary>
    public DateTime LastHeartbeatAt { get; set; }

    /// <summary>When the node first registered (UTC).</summary>
    public DateTime RegisteredAt { get; set; }

    /// <summary>The kernel release of the host.</summary>
    public string Kernel { get; set; } = "";

    /// <summary>The guest network of its bridge in CIDR form (gateway/prefix, e.g. <c>10.250.0.1/24</c>), as reported.</summary>
    public string GuestNetwork { get; set; } = "";

    /// <summary>The IPv6 guest network of its bridge (gateway/prefix, e.g. <c>fd56:5650:1::1/64</c>), or null when it has none.</summary>
    public string? GuestNetwork6 { get; set; }

    /// <summary>The images built on it, as reported.</summary>
    public List<string> Images { get; set; } = [];

    /// <summary>The drivers' probe results, as reported at the last heartbeat.</summary>
    public List<NodeDriver> Drivers { get; set; } = [];

    /// <summary>Whether the node has reported within <see cref="OfflineAfter"/>.</summary>
    public bool IsOnline(DateTime nowUtc) => nowUtc - LastHeartbeatAt < OfflineAfter;

    /// <summary>Whether a usable driver of <paramref name="approach"/> runs on it.</summary>
    public bool Supports(Panel.Hypervisor.Instances.VirtualizationKind approach)
        => Drivers.Any(d => d.Usable && d.Kind == approach.ToString());
}

/// <summary>One driver's status on a node (stored as JSON with the node).</summary>
/// <param name="Name">Driver name.</param>
/// <param name="Kind">The approach, e.g. Container.</param>
/// <param name="Version">The runtime's version.</param>
/// <param name="Usable">Whether it can run guests there.</param>
/// <param name="Reason">Why not.</param>
/// <param name="Features">Feature flags.</param>
public sealed record NodeDriver(string Name, string Kind, string? Version, bool Usable, string? Reason, IReadOnlyList<string> Features);
