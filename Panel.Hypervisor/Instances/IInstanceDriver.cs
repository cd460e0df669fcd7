namespace Panel.Hypervisor.Instances;

/// <summary>
/// One virtualization approach (shaped after Incus's instance drivers). Every mutating call holds
/// the instance's lock and undoes its finished steps when a later one fails. Drivers observe state
/// on the host; they never assume it from what they launched.
/// </summary>
public interface IInstanceDriver
{
    /// <summary>The driver's name: <c>lxc</c>, <c>uml</c> or <c>qemu</c>.</summary>
    string Name { get; }

    /// <summary>The approach it implements.</summary>
    VirtualizationKind Kind { get; }

    /// <summary>Name, version, features, and why it cannot run here (if it cannot).</summary>
    Task<DriverInfo> ProbeAsync(ProbeOptions options, CancellationToken cancellationToken = default);

    /// <summary>Creates a stopped instance: disk, configuration, guest access. Nothing is left behind on failure.</summary>
    Task CreateAsync(CreateOptions options, CancellationToken cancellationToken = default);

    /// <summary>Starts a stopped instance and waits until it runs. Starting a running instance does nothing.</summary>
    Task StartAsync(StartOptions options, CancellationToken cancellationToken = default);

    /// <summary>Stops cleanly within the grace period, then by force. Stopping a stopped instance does nothing.</summary>
    Task StopAsync(StopOptions options, CancellationToken cancellationToken = default);

    /// <summary>Stops (as <see cref="StopAsync"/>) and starts again.</summary>
    Task RestartAsync(RestartOptions options, CancellationToken cancellationToken = default);

    /// <summary>Pauses every process of the instance.</summary>
    Task FreezeAsync(FreezeOptions options, CancellationToken cancellationToken = default);

    /// <summary>Resumes a frozen instance.</summary>
    Task UnfreezeAsync(FreezeOptions options, CancellationToken cancellationToken = default);

    /// <summary>Removes the instance and everything it owns on the host. Deleting a missing instance does nothing.</summary>
    Task DeleteAsync(DeleteOptions options, CancellationToken cancellationToken = default);

    /// <summary>Changes limits, live where the driver can.</summary>
    Task UpdateLimitsAsync(UpdateLimitsOptions options, CancellationToken cancellationToken = default);

    /// <summary>The observed state and, optionally, metrics.</summary>
    Task<InstanceState> GetStateAsync(StateOptions options, CancellationToken cancellationToken = default);

    /// <summary>Runs a command inside a running instance.</summary>
    Task<ExecResult> ExecAsync(ExecOptions options, CancellationToken cancellationToken = default);

    /// <summary>Attaches to the guest's console (a login prompt), as a stream for a web terminal.</summary>
    Task<Consoles.IConsoleSession> OpenConsoleAsync(ConsoleOptions options, CancellationToken cancellationToken = default);

    /// <summary>Writes a new root password and SSH keys into the guest.</summary>
    Task ResetAccessAsync(ResetAccessOptions options, CancellationToken cancellationToken = default);

    /// <summary>Takes a snapshot of the instance's disk.</summary>
    Task<SnapshotInfo> CreateSnapshotAsync(SnapshotOptions options, CancellationToken cancellationToken = default);

    /// <summary>The instance's snapshots, oldest first.</summary>
    Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Puts the disk back to a snapshot.</summary>
    Task RestoreSnapshotAsync(SnapshotOptions options, CancellationToken cancellationToken = default);

    /// <summary>Removes a snapshot.</summary>
    Task DeleteSnapshotAsync(SnapshotOptions options, CancellationToken cancellationToken = default);

    /// <summary>The ids of the instances this driver has on this host.</summary>
    Task<IReadOnlyList<string>> ListAsync(ListOptions options, CancellationToken cancellationToken = default);

    /// <summary>After an engine restart: finds the instances again, re-applies host state they need (network rules, shaping), reports them.</summary>
    Task<IReadOnlyList<InstanceState>> RecoverAsync(RecoverOptions options, CancellationToken cancellationToken = default);

    // Backups and clones (Backups/InstanceBackups drives the first two). Default bodies refuse, so
    // a driver that does not have them yet still compiles; a driver that has them overrides all three.

    /// <summary>
    /// Writes a consistent copy of the instance's disk(s) into <see cref="ExportDisksOptions.Folder"/>, self-contained
    /// (nothing of this node's shared bases is needed to use them), running or not; says how it was made consistent.
    /// </summary>
    Task<DiskExport> ExportDisksAsync(ExportDisksOptions options, CancellationToken cancellationToken = default)
        => Task.FromException<DiskExport>(Unsupported(Name, "backups"));

    /// <summary>
    /// Takes disk files made by <see cref="ExportDisksAsync"/> (already verified) out of a folder: either replaces an existing
    /// instance's disks or creates a new instance from them. Moves the files (the folder is on the state folder's filesystem).
    /// </summary>
    Task ImportDisksAsync(ImportDisksOptions options, CancellationToken cancellationToken = default)
        => Task.FromException(Unsupported(Name, "restoring backups"));

    /// <summary>Creates a new, stopped instance from another instance's snapshot, copy-on-write where the driver can.</summary>
    Task CloneAsync(CloneOptions options, CancellationToken cancellationToken = default)
        => Task.FromException(Unsupported(Name, "clones"));

    private static EngineException Unsupported(string driver, string what)
        => new(EngineErrorCode.NotSupported, $"the {driver} driver does not support {what} yet");
}
