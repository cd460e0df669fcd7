namespace Panel.Hypervisor.Instances;

/// <summary>What an instance is doing, as observed on the host (never assumed).</summary>
public enum InstanceStatus
{
    /// <summary>Defined but not running.</summary>
    Stopped,

    /// <summary>Running.</summary>
    Running,

    /// <summary>Frozen (all its processes paused).</summary>
    Frozen,

    /// <summary>Between states (starting or stopping).</summary>
    Transitioning,

    /// <summary>The engine does not know an instance with this id.</summary>
    Missing,
}

/// <summary>An instance's observed state.</summary>
/// <param name="Id">The instance id.</param>
/// <param name="Status">Its status.</param>
/// <param name="InitPid">The host pid of its init (or main process) when running.</param>
/// <param name="Metrics">Usage figures when running.</param>
public sealed record InstanceState(string Id, InstanceStatus Status, int? InitPid, InstanceMetrics? Metrics);

/// <summary>Usage figures of a running instance.</summary>
/// <param name="CpuTime">CPU time used since it started.</param>
/// <param name="MemoryBytes">Memory in use now.</param>
/// <param name="MemoryLimitBytes">The memory limit.</param>
/// <param name="Processes">Tasks running now.</param>
/// <param name="DiskUsedBytes">Bytes used on its disk.</param>
/// <param name="DiskTotalBytes">Its disk size.</param>
/// <param name="RxBytes">Bytes received by the guest since the last start.</param>
/// <param name="TxBytes">Bytes sent by the guest since the last start.</param>
/// <param name="DiskReadBytes">Bytes the guest read from its disk since the last start, where the driver can tell (QEMU's block stats).</param>
/// <param name="DiskWriteBytes">Bytes the guest wrote to its disk since the last start, where the driver can tell.</param>
public sealed record InstanceMetrics(
    TimeSpan CpuTime,
    long MemoryBytes,
    long MemoryLimitBytes,
    int Processes,
    long DiskUsedBytes,
    long DiskTotalBytes,
    long RxBytes,
    long TxBytes,
    long DiskReadBytes = 0,
    long DiskWriteBytes = 0);

/// <summary>The result of a command run inside a guest.</summary>
/// <param name="ExitCode">The command's exit code.</param>
/// <param name="StdOut">What it printed.</param>
/// <param name="StdErr">What it printed on stderr.</param>
public sealed record ExecResult(int ExitCode, string StdOut, string StdErr);

/// <summary>A point-in-time copy of an instance's disk.</summary>
/// <param name="Name">The snapshot name.</param>
/// <param name="CreatedAt">When it was taken (UTC).</param>
/// <param name="SizeBytes">Bytes it occupies.</param>
public sealed record SnapshotInfo(string Name, DateTime CreatedAt, long SizeBytes);

/// <summary>What a driver can do on this host.</summary>
/// <param name="Name">Driver name (<c>lxc</c>, <c>uml</c>, <c>qemu</c>).</param>
/// <param name="Kind">The virtualization approach.</param>
/// <param name="Version">The runtime's version, when it is installed.</param>
/// <param name="Features">Feature flags, e.g. <c>lxcfs</c>, <c>cgroup:v1</c>, <c>kvm</c>.</param>
/// <param name="Usable">Whether instances can run here.</param>
/// <param name="Reason">Why not, when <paramref name="Usable"/> is false.</param>
public sealed record DriverInfo(string Name, VirtualizationKind Kind, string? Version, IReadOnlyList<string> Features, bool Usable, string? Reason);
