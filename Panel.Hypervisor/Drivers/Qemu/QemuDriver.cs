using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Panel.Hypervisor.Cgroups;
using Panel.Hypervisor.Concurrency;
using Panel.Hypervisor.Consoles;
using Panel.Hypervisor.Drivers.Qemu.Qmp;
using Panel.Hypervisor.Guest;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Images;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Drivers.Qemu;

/// <summary>
/// Full virtual machines: <c>qemu-system-x86_64</c> with KVM when a bounded test boot shows it
/// works, TCG otherwise. Each guest boots Debian's kernel with our initramfs from a qcow2 overlay
/// of the plan's size over the image's base, gets its host name, address and access from a
/// read-only config disk, and has a TAP port on the node bridge under the same anti-spoofing rules
/// and shaping as containers. QEMU is daemonized with a pid file and sockets (QMP, serial console,
/// exec channel) in the instance folder, inside a cgroup of its own: it outlives the engine, and a
/// new engine finds it again from those files. State is observed (pid file, /proc, QMP), never remembered.
/// </summary>
public sealed class QemuDriver : IInstanceDriver
{
    /// <summary>The smallest memory a guest boots in (kernel, initramfs and a shell).</summary>
    public const long MinMemory = 64L << 20;

    private const string Qemu = "qemu-system-x86_64";

    // The one disk file of a QEMU backup, and the QMP node and job name of a running export.
    private const string ExportedDisk = "disk.qcow2";
    private const string ExportNode = "vpspanel-export";

    // Enters the cgroup folders given before "--", then runs the rest: QEMU is charged from its first page.
    private const string EnterCgroups =
        "for d; do [ \"$d\" = -- ] && break; echo $$ >\"$d/cgroup.procs\" || exit 125; done; " +
        "while [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    // A kernel-based guest's boot (a Debian guest: about 25 s on an idle two-core node) runs much
    // longer on a busy node; the wait ends as soon as the guest is up, this only bounds a failure.
    private static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(15);
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> BaseGates = new(StringComparer.Ordinal);

    private readonly EngineOptions options;
    private readonly IProcessRunner runner;
    private readonly InstanceLocks locks;
    private readonly ImageStore images;
    private readonly GuestNetwork network;
    private readonly NodeBridge bridge;
    private readonly AntiSpoofRules antiSpoof;
    private readonly PortShaper shaper;
    private readonly GuestAccessWriter access;
    private readonly ConfigDisk configDisk;
    private readonly HostFacts host;
    private readonly ConcurrentDictionary<string, bool> rulesApplied = new(StringComparer.Ordinal);
    private volatile bool tableEnsured;

    /// <summary>Creates the driver for one node's engine options.</summary>
    public QemuDriver(EngineOptions options, IProcessRunner? runner = null, InstanceLocks? locks = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        this.runner = runner ?? ProcessRunner.Instance;
        this.locks = locks ?? new InstanceLocks();
        images = new ImageStore(options.ImagesDirectory);
        network = new GuestNetwork(options.BridgeCidr, options.BridgeCidr6);
        bridge = new NodeBridge(options.BridgeName, network, this.runner);
        antiSpoof = new AntiSpoofRules(options.NftTable, this.runner);
        shaper = new PortShaper(this.runner);
        access = new GuestAccessWriter(this.runner);
        configDisk = new ConfigDisk(this.runner);
        host = HostProbe.Read();
    }

    /// <inheritdoc />
    public string Name => "qemu";

    /// <inheritdoc />
    public VirtualizationKind Kind => VirtualizationKind.FullVm;

    /// <summary>The node's guest network.</summary>
    public GuestNetwork Network => network;

    /// <summary>Where this driver keeps its guests (apart from containers: <c>STATE/qemu</c>).</summary>
    public string VmsDirectory => Path.Combine(options.StateDirectory, "qemu");

    /// <inheritdoc />
    public async Task<DriverInfo> ProbeAsync(ProbeOptions probe, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(probe);
        var features = new List<string> { "cgroup:" + host.CgroupMode.ToString().ToLowerInvariant() };
        string? version = null;
        try
        {
            var v = await runner.RunAsync(Qemu, ["--version"], new ProcessRunOptions(TimeSpan.FromSeconds(10)), cancellationToken);
            version = v.Succeeded ? v.StdOut.Split('\n')[0].Trim() : null;
        }
        catch (EngineException)
        {
        }

        if (version is null)
        {
            return new DriverInfo(Name, Kind, null, features, false, "QEMU is not installed (Debian package qemu-system-x86)");
        }

        if (Environment.UserName != "root")
        {
            return new DriverInfo(Name, Kind, version, features, false, "the engine must run as root to create TAP ports and cgroups");
        }

        var kernelFile = QemuKernel.Find(options.ImagesDirectory)?.Kernel;
        var accel = probe.Refresh ? await KvmProbe.RunAsync(runner, kernelFile, cancellationToken) : await KvmProbe.GetAsync(kernelFile);
        features.Add("accel:" + accel.Accelerator);
        if (!accel.Kvm && !accel.TcgWorks)
        {
            return new DriverInfo(Name, Kind, version, features, false, $"no accelerator works: KVM: {accel.Reason}; TCG: {accel.TcgReason}");
        }

        if (QemuKernel.Find(options.ImagesDirectory) is not { } kernel)
        {
            return new DriverInfo(Name, Kind, version, features, false, $"no guest kernel in {options.ImagesDirectory}/kernels/qemu (./panel images kernels builds it)");
        }

        features.Add("kernel:" + kernel.Release);
        features.Add("qcow2-snapshots");
        features.Add("nftables-antispoof");
        // Usable, but say why guests run slower than they could: the dashboard shows the reason.
        return new DriverInfo(Name, Kind, version, features, true,
            accel.Kvm ? null : $"KVM is not usable ({accel.Reason}); guests run under TCG, QEMU's software emulation");
    }

    /// <inheritdoc />
    public async Task CreateAsync(CreateOptions create, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(create);
        var spec = create.Spec;
        SpecValidator.Validate(spec, network);
        if (spec.Limits.MemoryBytes < MinMemory)
        {
            throw EngineException.Invalid("Limits.MemoryBytes", $"a virtual machine needs at least {MinMemory >> 20} MiB");
        }

        var image = images.Get(spec.Image);
        RequireKernel();
        using var held = await locks.AcquireAsync(spec.Id, cancellationToken);
        var paths = PathsOf(spec.Id);
        if (Directory.Exists(paths.Directory))
        {
            throw new EngineException(EngineErrorCode.AlreadyExists, $"an instance '{spec.Id}' already exists on this node", "Id");
        }

        var (baseDisk, baseSize) = await EnsureBaseAsync(image, cancellationToken);
        if (spec.Limits.DiskBytes < baseSize)
        {
            throw EngineException.Invalid("Limits.DiskBytes", $"the {spec.Image} image needs a disk of at least {(baseSize + (1 << 20) - 1) >> 20} MiB");
        }

        await using var revert = new Reverter();
        Directory.CreateDirectory(paths.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        revert.Add("instance folder", () => Directory.Delete(paths.Directory, recursive: true));
        (await QemuImg(["create", "-q", "-f", "qcow2", "-b", baseDisk, "-F", "qcow2", paths.Disk, Bytes(spec.Limits.DiskBytes)], cancellationToken)).ThrowIfFailed();
        await WriteConfigDiskAsync(spec, spec.Access, paths, cancellationToken);
        WriteSpec(paths, spec);
        revert.Success();
    }

    /// <inheritdoc />
    public async Task StartAsync(StartOptions start, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        using var held = await locks.AcquireAsync(start.Id, cancellationToken);
        await StartLockedAsync(start.Id, start.Timeout ?? DefaultStartTimeout, cancellationToken);
    }

    /// <inheritdoc />
    public async Task StopAsync(StopOptions stop, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stop);
        using var held = await locks.AcquireAsync(stop.Id, cancellationToken);
        await StopLockedAsync(stop.Id, stop.GracePeriod ?? DefaultGrace, cancellationToken);
    }

    /// <inheritdoc />
    public async Task RestartAsync(RestartOptions restart, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(restart);
        using var held = await locks.AcquireAsync(restart.Id, cancellationToken);
        // A new QEMU process rather than a reset: it also picks up new CPU and memory sizes.
        await StopLockedAsync(restart.Id, restart.GracePeriod ?? DefaultGrace, cancellationToken);
        await StartLockedAsync(restart.Id, DefaultStartTimeout, cancellationToken);
    }

    /// <inheritdoc />
    public async Task FreezeAsync(FreezeOptions freeze, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(freeze);
        using var held = await locks.AcquireAsync(freeze.Id, cancellationToken);
        await RequireStatusAsync(freeze.Id, InstanceStatus.Running, "freeze", cancellationToken);
        await using var qmp = await ConnectQmpAsync(PathsOf(freeze.Id), cancellationToken);
        await qmp.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task UnfreezeAsync(FreezeOptions freeze, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(freeze);
        using var held = await locks.AcquireAsync(freeze.Id, cancellationToken);
        await RequireStatusAsync(freeze.Id, InstanceStatus.Frozen, "unfreeze", cancellationToken);
        await using var qmp = await ConnectQmpAsync(PathsOf(freeze.Id), cancellationToken);
        await qmp.ContAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task DeleteAsync(DeleteOptions delete, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delete);
        SpecValidator.ValidateId(delete.Id);
        using var held = await locks.AcquireAsync(delete.Id, cancellationToken);
        var paths = PathsOf(delete.Id);
        if (Directory.Exists(paths.Directory))
        {
            var (status, _) = await ObserveAsync(paths, cancellationToken);
            if (status != InstanceStatus.Stopped)
            {
                if (!delete.Force)
                {
                    throw new EngineException(EngineErrorCode.InvalidState, $"'{delete.Id}' is {status.ToString().ToLowerInvariant()}; stop it first or delete with force");
                }

                await StopLockedAsync(delete.Id, TimeSpan.Zero, cancellationToken);
            }
        }

        // Also what a half-finished delete left: the port's rules, the cgroup, a TAP.
        await antiSpoof.RemoveAsync(PortName.For(delete.Id), cancellationToken);
        rulesApplied.TryRemove(delete.Id, out _);
        await new QemuCgroup(delete.Id, host.CgroupMode).RemoveAsync(cancellationToken);
        if (Directory.Exists(paths.Directory))
        {
            Directory.Delete(paths.Directory, recursive: true);
        }
    }

    /// <inheritdoc />
    public async Task UpdateLimitsAsync(UpdateLimitsOptions update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        SpecValidator.ValidateLimits(update.Limits);
        if (update.Limits.MemoryBytes < MinMemory)
        {
            throw EngineException.Invalid("Limits.MemoryBytes", $"a virtual machine needs at least {MinMemory >> 20} MiB");
        }

        using var held = await locks.AcquireAsync(update.Id, cancellationToken);
        var paths = RequirePaths(update.Id);
        var spec = ReadSpec(paths);
        if (update.Limits.DiskBytes < spec.Limits.DiskBytes)
        {
            throw EngineException.Invalid("Limits.DiskBytes", "a disk can only grow");
        }

        var (status, _) = await ObserveAsync(paths, cancellationToken);
        var running = status != InstanceStatus.Stopped;
        if (update.Limits.DiskBytes > spec.Limits.DiskBytes)
        {
            if (running)
            {
                // The virtual disk grows at once; the guest's filesystem grows at its next boot (the initramfs runs resize2fs).
                await using var qmp = await ConnectQmpAsync(paths, cancellationToken);
                await qmp.ExecuteAsync("block_resize", new Dictionary<string, object> { ["device"] = QemuCommandLine.RootDrive, ["size"] = update.Limits.DiskBytes }, cancellationToken: cancellationToken);
            }
            else
            {
                (await QemuImg(["resize", "-q", paths.Disk, Bytes(update.Limits.DiskBytes)], cancellationToken)).ThrowIfFailed();
            }
        }

        WriteSpec(paths, spec with { Limits = update.Limits });
        if (running)
        {
            // QEMU's cgroup and the port speed change live; the guest's vCPUs and RAM at its next boot.
            new QemuCgroup(update.Id, host.CgroupMode).Apply(update.Limits, !(await KvmProbe.GetAsync(QemuKernel.Find(options.ImagesDirectory)?.Kernel)).Kvm);
            await shaper.ApplyAsync(PortName.For(update.Id), update.Limits.PortSpeedMbit, false, cancellationToken);
            await antiSpoof.ApplyAsync(PortName.For(update.Id), spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, update.Limits.PortSpeedMbit, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<InstanceState> GetStateAsync(StateOptions state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        SpecValidator.ValidateId(state.Id);
        var paths = PathsOf(state.Id);
        if (!File.Exists(paths.Spec))
        {
            return new InstanceState(state.Id, InstanceStatus.Missing, null, null);
        }

        var (status, pid) = await ObserveAsync(paths, cancellationToken);
        InstanceMetrics? metrics = null;
        if (state.WithMetrics && pid is { } p && status is InstanceStatus.Running or InstanceStatus.Frozen)
        {
            var spec = ReadSpec(paths);
            var cg = CgroupStats.Read(p, "vpsqemu.", host.CgroupMode);
            var (rx, tx) = PortCounters.Read(PortName.For(state.Id));
            long read = 0, written = 0;
            try
            {
                await using var qmp = await ConnectQmpAsync(paths, cancellationToken);
                var root = (await qmp.QueryBlockStatsAsync(cancellationToken)).FirstOrDefault(b => b.Device == QemuCommandLine.RootDrive);
                (read, written) = (root?.ReadBytes ?? 0, root?.WriteBytes ?? 0);
            }
            catch (Exception ex) when (ex is QmpConnectionException or TimeoutException or EngineException)
            {
                // The guest went away meanwhile: no block figures.
            }

            metrics = new InstanceMetrics(
                cg?.CpuTime ?? TimeSpan.Zero,
                cg?.MemoryBytes ?? 0,
                spec.Limits.MemoryBytes,
                cg?.Processes ?? 0,
                File.Exists(paths.Disk) ? new FileInfo(paths.Disk).Length : 0,
                spec.Limits.DiskBytes,
                rx,
                tx,
                read,
                written);
        }

        return new InstanceState(state.Id, status, pid, metrics);
    }

    /// <inheritdoc />
    public async Task<ExecResult> ExecAsync(ExecOptions exec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exec);
        if (exec.Command.Count == 0)
        {
            throw EngineException.Invalid("Command", "give a program to run");
        }

        var paths = RequirePaths(exec.Id);
        var (status, _) = await ObserveAsync(paths, cancellationToken);
        if (status != InstanceStatus.Running)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"'{exec.Id}' is {status.ToString().ToLowerInvariant()}; exec needs it running");
        }

        return await QemuExecChannel.RunAsync(paths.Exec, exec.Command, exec.StdIn, exec.Timeout ?? TimeSpan.FromSeconds(60), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IConsoleSession> OpenConsoleAsync(ConsoleOptions console, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        var paths = RequirePaths(console.Id);
        var (status, _) = await ObserveAsync(paths, cancellationToken);
        if (status is not (InstanceStatus.Running or InstanceStatus.Frozen))
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"'{console.Id}' is {status.ToString().ToLowerInvariant()}; its console needs it running");
        }

        return await SocketConsoleSession.ConnectAsync(paths.Console, cancellationToken);
    }

    /// <inheritdoc />
    public async Task ResetAccessAsync(ResetAccessOptions reset, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reset);
        SpecValidator.ValidateAccess(reset.Access);
        using var held = await locks.AcquireAsync(reset.Id, cancellationToken);
        var paths = RequirePaths(reset.Id);
        var spec = ReadSpec(paths);
        // The guest applies its config disk at boot, before its own init: a running guest is restarted.
        await WriteConfigDiskAsync(spec, reset.Access, paths, cancellationToken);
        WriteSpec(paths, spec with { Access = reset.Access });
        var (status, _) = await ObserveAsync(paths, cancellationToken);
        if (status != InstanceStatus.Stopped)
        {
            await StopLockedAsync(reset.Id, DefaultGrace, cancellationToken);
            await StartLockedAsync(reset.Id, DefaultStartTimeout, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<SnapshotInfo> CreateSnapshotAsync(SnapshotOptions snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ValidateSnapshotName(snapshot.Name);
        using var held = await locks.AcquireAsync(snapshot.Id, cancellationToken);
        var paths = RequirePaths(snapshot.Id);
        if ((await ListSnapshotsCoreAsync(paths, cancellationToken)).Any(s => s.Name == snapshot.Name))
        {
            throw new EngineException(EngineErrorCode.AlreadyExists, $"'{snapshot.Id}' already has a snapshot '{snapshot.Name}'", "Snapshot");
        }

        var (status, _) = await ObserveAsync(paths, cancellationToken);
        if (status == InstanceStatus.Stopped)
        {
            (await QemuImg(["snapshot", "-c", snapshot.Name, paths.Disk], cancellationToken)).ThrowIfFailed();
        }
        else
        {
            // A running guest: the whole machine (RAM, devices, disk) as a qcow2 internal snapshot.
            // Restoring it resumes the guest where it was, with no reboot and no unclean filesystem.
            // Synced first, so that the snapshot's disk alone is consistent too (a clone boots from it without the RAM).
            if (status == InstanceStatus.Running)
            {
                await SyncGuestAsync(paths, cancellationToken);
            }

            await using var qmp = await ConnectQmpAsync(paths, cancellationToken);
            await RunQmpSnapshotAsync(() => qmp.SnapshotSaveAsync(snapshot.Name, TimeSpan.FromMinutes(10), cancellationToken));
        }

        return (await ListSnapshotsCoreAsync(paths, cancellationToken)).Single(s => s.Name == snapshot.Name);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default)
        => await ListSnapshotsCoreAsync(RequirePaths(id), cancellationToken);

    /// <inheritdoc />
    public async Task RestoreSnapshotAsync(SnapshotOptions snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ValidateSnapshotName(snapshot.Name);
        using var held = await locks.AcquireAsync(snapshot.Id, cancellationToken);
        var paths = RequirePaths(snapshot.Id);
        var snap = (await ListSnapshotsCoreAsync(paths, cancellationToken)).FirstOrDefault(s => s.Name == snapshot.Name)
            ?? throw new EngineException(EngineErrorCode.NotFound, $"'{snapshot.Id}' has no snapshot '{snapshot.Name}'", "Snapshot");
        var (status, _) = await ObserveAsync(paths, cancellationToken);
        if (status != InstanceStatus.Stopped && await HasVmStateAsync(paths, snap.Name, cancellationToken))
        {
            await using var qmp = await ConnectQmpAsync(paths, cancellationToken);
            await RunQmpSnapshotAsync(() => qmp.SnapshotLoadAsync(snapshot.Name, TimeSpan.FromMinutes(10), cancellationToken));
            if (status == InstanceStatus.Running && !(await qmp.QueryStatusAsync(cancellationToken)).Running)
            {
                await qmp.ContAsync(cancellationToken);
            }

            return;
        }

        // A disk-only snapshot (taken while stopped) is applied to a stopped disk: a running guest is stopped and started around it.
        var wasRunning = status != InstanceStatus.Stopped;
        if (wasRunning)
        {
            await StopLockedAsync(snapshot.Id, DefaultGrace, cancellationToken);
        }

        (await QemuImg(["snapshot", "-a", snapshot.Name, paths.Disk], cancellationToken)).ThrowIfFailed();
        if (wasRunning)
        {
            await StartLockedAsync(snapshot.Id, DefaultStartTimeout, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task DeleteSnapshotAsync(SnapshotOptions snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ValidateSnapshotName(snapshot.Name);
        using var held = await locks.AcquireAsync(snapshot.Id, cancellationToken);
        var paths = RequirePaths(snapshot.Id);
        if (!(await ListSnapshotsCoreAsync(paths, cancellationToken)).Any(s => s.Name == snapshot.Name))
        {
            return;
        }

        var (status, _) = await ObserveAsync(paths, cancellationToken);
        if (status == InstanceStatus.Stopped)
        {
            (await QemuImg(["snapshot", "-d", snapshot.Name, paths.Disk], cancellationToken)).ThrowIfFailed();
        }
        else
        {
            await using var qmp = await ConnectQmpAsync(paths, cancellationToken);
            await RunQmpSnapshotAsync(() => qmp.SnapshotDeleteAsync(snapshot.Name, TimeSpan.FromMinutes(2), cancellationToken));
        }
    }

    /// <summary>
    /// The root disk as one standalone qcow2 (<c>disk.qcow2</c>: the overlay merged with its image base, no backing file,
    /// sparse, without the internal snapshots), so it restores where neither the base nor the image exists. Stopped:
    /// <c>qemu-img convert</c>. Running: the guest is synced through the exec channel, then its vCPUs are paused
    /// (QMP <c>stop</c>, which drains and flushes the disk) only while a QMP <c>blockdev-backup</c> job (sync=full) starts,
    /// and resumed at once (<c>cont</c>, also on failure); the job copies the disk as it was at that instant
    /// (copy-before-write) while the guest runs on. The config disk is not exported: it is made from the spec.
    /// </summary>
    public async Task<DiskExport> ExportDisksAsync(ExportDisksOptions export, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(export);
        using var held = await locks.AcquireAsync(export.Id, cancellationToken);
        var paths = RequirePaths(export.Id);
        var spec = ReadSpec(paths);
        var target = Path.Combine(export.Folder, ExportedDisk);
        var (status, _) = await ObserveAsync(paths, cancellationToken);
        string consistency;
        if (status == InstanceStatus.Stopped)
        {
            (await QemuImg(["convert", "-q", "-f", "qcow2", "-O", "qcow2", paths.Disk, target], cancellationToken)).ThrowIfFailed();
            consistency = "stopped: the disk converted to a standalone qcow2 (qemu-img convert)";
        }
        else if (status is InstanceStatus.Running or InstanceStatus.Frozen)
        {
            var synced = status == InstanceStatus.Running && await SyncGuestAsync(paths, cancellationToken);
            var paused = await BackupJobAsync(paths, target, pause: status == InstanceStatus.Running, cancellationToken);
            consistency = status == InstanceStatus.Running
                ? FormattableString.Invariant($"frozen: guest {(synced ? "synced" : "not synced (its exec channel did not answer)")}, its vCPUs paused for {paused.TotalMilliseconds:0} ms (QMP stop: disk drained and flushed) while a point-in-time blockdev-backup job started, then resumed (cont); the job copied the disk into a standalone qcow2")
                : "frozen: the guest was paused already (not synced); a point-in-time blockdev-backup job copied the disk into a standalone qcow2";
        }
        else
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"cannot back up '{export.Id}': it is between states; stop it first");
        }

        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new DiskExport(spec, TryImageSha(spec.Image), [ExportedDisk], consistency);
    }

    /// <summary>
    /// Takes a <c>disk.qcow2</c> made by <see cref="ExportDisksAsync"/> (checked: a qcow2 without backing or external
    /// data file, consistent, not larger than the plan), grown to the plan. A new instance gets it as its standalone
    /// disk (no image needed on this node) and a config disk from its spec (without password and keys when the guest
    /// keeps its own). Replacing: the instance is killed when it runs; a disk without internal snapshots is swapped
    /// for the backup's; a disk with snapshots gets the backup's content written into a copy of itself
    /// (<c>qemu-img convert -n</c>), so its snapshots stay; the copy then replaces it (a rename: all or nothing).
    /// </summary>
    public async Task ImportDisksAsync(ImportDisksOptions import, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(import);
        if (!import.Files.SequenceEqual([ExportedDisk]))
        {
            throw new EngineException(EngineErrorCode.CorruptBackup, $"a QEMU backup holds {ExportedDisk}, not {string.Join(", ", import.Files)}", "Archive");
        }

        var staged = Path.Combine(import.Folder, ExportedDisk);
        var size = await CheckImportedDiskAsync(staged, cancellationToken);
        using var held = await locks.AcquireAsync(import.Spec.Id, cancellationToken);
        if (import.Replace)
        {
            var paths = RequirePaths(import.Spec.Id);
            var spec = ReadSpec(paths);
            using var current = await ImageInfoAsync(paths.Disk, cancellationToken);
            var plan = Math.Max(spec.Limits.DiskBytes, current.RootElement.GetProperty("virtual-size").GetInt64());
            if (size > plan)
            {
                throw EngineException.Invalid("Limits.DiskBytes", FormattableString.Invariant($"the backup's disk ({size} bytes) is larger than the instance's ({plan} bytes)"));
            }

            var (status, _) = await ObserveAsync(paths, cancellationToken);
            var wasRunning = status != InstanceStatus.Stopped;
            if (wasRunning)
            {
                await StopLockedAsync(spec.Id, TimeSpan.Zero, cancellationToken); // its disk is replaced: nothing it writes now is kept
            }

            var replacement = paths.Disk + ".restore";
            try
            {
                await GrowAsync(staged, size, plan, cancellationToken);
                if ((await ListSnapshotsCoreAsync(paths, cancellationToken)).Count > 0)
                {
                    (await runner.RunAsync("cp", ["--sparse=always", "--reflink=auto", "--", paths.Disk, replacement], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
                    (await QemuImg(["convert", "-q", "-n", "-f", "qcow2", "-O", "qcow2", staged, replacement], cancellationToken)).ThrowIfFailed();
                }
                else
                {
                    File.Move(staged, replacement, overwrite: true);
                }

                File.SetUnixFileMode(replacement, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                File.Move(replacement, paths.Disk, overwrite: true);
            }
            finally
            {
                File.Delete(replacement);
            }

            if (wasRunning || import.Start)
            {
                await StartLockedAsync(spec.Id, DefaultStartTimeout, cancellationToken);
            }

            return;
        }

        var newSpec = import.Spec;
        ValidateNewSpec(newSpec);
        if (newSpec.Limits.DiskBytes < size)
        {
            throw EngineException.Invalid("Limits.DiskBytes", FormattableString.Invariant($"the backup's disk has {size} bytes; the plan's disk cannot be smaller"));
        }

        await CreateOnDiskLockedAsync(newSpec, import.KeepGuestAccess, async disk =>
        {
            await GrowAsync(staged, size, newSpec.Limits.DiskBytes, cancellationToken);
            File.Move(staged, disk, overwrite: false);
        }, cancellationToken);
        if (import.Start)
        {
            await StartLockedAsync(newSpec.Id, DefaultStartTimeout, cancellationToken);
        }
    }

    /// <summary>
    /// A new, stopped guest from another's internal snapshot: <c>qemu-img convert -l snapshot.name=…</c> with the source's
    /// image base as the new disk's backing file (<c>-B</c>), so the clone shares the image base copy-on-write, as every VPS
    /// does, and gets a copy of only the blocks the source had written by the snapshot. It then depends on neither the
    /// source nor the snapshot (both may go). A source without a base (restored from a backup) gives a standalone disk.
    /// A live snapshot's disk is consistent because the guest is synced before <c>savevm</c>.
    /// </summary>
    public async Task CloneAsync(CloneOptions clone, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clone);
        ValidateSnapshotName(clone.Snapshot);
        SpecValidator.ValidateId(clone.SourceId);
        if (clone.Spec.Id == clone.SourceId)
        {
            throw EngineException.Invalid("Id", "a clone needs an id of its own");
        }

        using var source = await locks.AcquireAsync(clone.SourceId, cancellationToken);
        var sourcePaths = RequirePaths(clone.SourceId);
        if (!(await ListSnapshotsCoreAsync(sourcePaths, cancellationToken)).Any(s => s.Name == clone.Snapshot))
        {
            throw new EngineException(EngineErrorCode.NotFound, $"'{clone.SourceId}' has no snapshot '{clone.Snapshot}'", "Snapshot");
        }

        var spec = clone.Spec with { Image = ReadSpec(sourcePaths).Image };
        ValidateNewSpec(spec);
        string? baseDisk;
        using (var info = await ImageInfoAsync(sourcePaths.Disk, cancellationToken))
        {
            baseDisk = info.RootElement.TryGetProperty("full-backing-filename", out var b) ? b.GetString() : null;
        }

        using var held = await locks.AcquireAsync(spec.Id, cancellationToken);
        await CreateOnDiskLockedAsync(spec, keepAccess: false, async disk =>
        {
            // -U: the source may run (its QEMU holds the lock); a snapshot's clusters never change, and its lock keeps the snapshot.
            string[] backing = baseDisk is null ? [] : ["-B", baseDisk, "-F", "qcow2"];
            (await QemuImg(["convert", "-q", "-U", "-f", "qcow2", "-l", "snapshot.name=" + clone.Snapshot, "-O", "qcow2", .. backing, sourcePaths.Disk, disk], cancellationToken)).ThrowIfFailed();
            using var made = await ImageInfoAsync(disk, cancellationToken);
            var size = made.RootElement.GetProperty("virtual-size").GetInt64();
            if (size > spec.Limits.DiskBytes)
            {
                throw EngineException.Invalid("Limits.DiskBytes", FormattableString.Invariant($"the snapshot's disk has {size} bytes; the clone's cannot be smaller"));
            }

            await GrowAsync(disk, size, spec.Limits.DiskBytes, cancellationToken);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListAsync(ListOptions list, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(VmsDirectory))
        {
            return Task.FromResult<IReadOnlyList<string>>([]);
        }

        IReadOnlyList<string> ids = Directory.EnumerateDirectories(VmsDirectory)
            .Where(d => File.Exists(Path.Combine(d, "spec.json")))
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(ids);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<InstanceState>> RecoverAsync(RecoverOptions recover, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recover);
        var states = new List<InstanceState>();
        foreach (var id in await ListAsync(new ListOptions(), cancellationToken))
        {
            using var held = await locks.AcquireAsync(id, cancellationToken);
            var paths = PathsOf(id);
            var (status, _) = await ObserveAsync(paths, cancellationToken);
            if (status != InstanceStatus.Stopped)
            {
                // Re-assert what a crash between steps or a new bridge may have lost.
                var spec = ReadSpec(paths);
                var port = PortName.For(id);
                await bridge.EnsureAsync(cancellationToken);
                await antiSpoof.ApplyAsync(port, spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, spec.Limits.PortSpeedMbit, cancellationToken);
                rulesApplied[id] = true;
                await AttachPortAsync(port, cancellationToken);
                await shaper.ApplyAsync(port, spec.Limits.PortSpeedMbit, false, cancellationToken);
            }
            else
            {
                CleanUpStopped(id, paths);
                if (recover.StartStopped)
                {
                    await StartLockedAsync(id, DefaultStartTimeout, cancellationToken);
                }
            }

            states.Add(await GetStateAsync(new StateOptions(id), cancellationToken));
        }

        return states;
    }

    // ------------------------------------------------------------------ internals

    /// <summary>
    /// Creates an instance like <see cref="CreateAsync"/> on a disk that <paramref name="placeDisk"/> puts at the path it is
    /// given (a backup's, a clone's), with a config disk from the spec. Nothing is left on failure. Caller holds the lock.
    /// </summary>
    private async Task CreateOnDiskLockedAsync(InstanceSpec spec, bool keepAccess, Func<string, Task> placeDisk, CancellationToken cancellationToken)
    {
        var paths = PathsOf(spec.Id);
        if (Directory.Exists(paths.Directory))
        {
            throw new EngineException(EngineErrorCode.AlreadyExists, $"an instance '{spec.Id}' already exists on this node", "Id");
        }

        await using var revert = new Reverter();
        Directory.CreateDirectory(paths.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        revert.Add("instance folder", () => Directory.Delete(paths.Directory, recursive: true));
        await placeDisk(paths.Disk);
        File.SetUnixFileMode(paths.Disk, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await WriteConfigDiskAsync(spec, spec.Access, paths, cancellationToken, keepAccess);
        WriteSpec(paths, spec);
        revert.Success();
    }

    /// <summary>A new instance's spec: valid on this node's network, with enough memory, and a guest kernel to boot.</summary>
    private void ValidateNewSpec(InstanceSpec spec)
    {
        SpecValidator.Validate(spec, network);
        if (spec.Limits.MemoryBytes < MinMemory)
        {
            throw EngineException.Invalid("Limits.MemoryBytes", $"a virtual machine needs at least {MinMemory >> 20} MiB");
        }

        RequireKernel();
    }

    /// <summary>
    /// Checks a disk from a backup before anything uses it (restore runs as root and QEMU opens what a qcow2 header
    /// names): qcow2, no backing file and no external data file (they could point at host files), no corruption
    /// (<c>qemu-img check</c>; leaked clusters are harmless). Returns its virtual size.
    /// </summary>
    private async Task<long> CheckImportedDiskAsync(string disk, CancellationToken cancellationToken)
    {
        static EngineException Refused(string why) => new(EngineErrorCode.CorruptBackup, $"the backup's {ExportedDisk} is refused: {why}", "Archive");
        var r = await QemuImg(["info", "--output=json", disk], cancellationToken);
        if (!r.Succeeded)
        {
            throw Refused("qemu-img cannot read it: " + r.StdErr.Trim());
        }

        using var info = JsonDocument.Parse(r.StdOut);
        var root = info.RootElement;
        if (root.GetProperty("format").GetString() != "qcow2")
        {
            throw Refused("it is not a qcow2 image");
        }

        if (root.TryGetProperty("backing-filename", out _) || root.TryGetProperty("full-backing-filename", out _))
        {
            throw Refused("it names a backing file");
        }

        if (root.TryGetProperty("format-specific", out var specific) && specific.TryGetProperty("data", out var data) && data.TryGetProperty("data-file", out _))
        {
            throw Refused("it names an external data file");
        }

        var check = await QemuImg(["check", "-q", "-f", "qcow2", disk], cancellationToken);
        if (check.ExitCode is not (0 or 3))
        {
            throw Refused("qemu-img check finds it damaged: " + (check.StdErr + check.StdOut).Trim());
        }

        return root.GetProperty("virtual-size").GetInt64();
    }

    /// <summary>Grows a stopped qcow2 to <paramref name="plan"/> bytes when it is smaller (the guest's filesystem grows at its next boot).</summary>
    private async Task GrowAsync(string disk, long size, long plan, CancellationToken cancellationToken)
    {
        if (plan > size)
        {
            (await QemuImg(["resize", "-q", "-f", "qcow2", disk, Bytes(plan)], cancellationToken)).ThrowIfFailed();
        }
    }

    /// <summary>Flushes the guest's page cache to its disk through the exec channel; false when the guest did not answer.</summary>
    private static async Task<bool> SyncGuestAsync(QemuInstancePaths paths, CancellationToken cancellationToken)
    {
        try
        {
            return (await QemuExecChannel.RunAsync(paths.Exec, ["sync"], null, TimeSpan.FromSeconds(30), cancellationToken)).ExitCode == 0;
        }
        catch (EngineException)
        {
            return false;
        }
    }

    /// <summary>
    /// Copies the running QEMU's root disk into a new standalone qcow2 at <paramref name="target"/> with a QMP
    /// <c>blockdev-backup</c> job (sync=full: the disk as it was when the job started, whatever the guest writes meanwhile).
    /// With <paramref name="pause"/>, the vCPUs are stopped only while the job starts and always resumed. Returns how long they were paused.
    /// </summary>
    private async Task<TimeSpan> BackupJobAsync(QemuInstancePaths paths, string target, bool pause, CancellationToken cancellationToken)
    {
        using (var info = await ImageInfoAsync(paths.Disk, cancellationToken))
        {
            (await QemuImg(["create", "-q", "-f", "qcow2", target, Bytes(info.RootElement.GetProperty("virtual-size").GetInt64())], cancellationToken)).ThrowIfFailed();
        }

        await using var qmp = await ConnectQmpAsync(paths, cancellationToken);
        var added = false;
        var paused = System.Diagnostics.Stopwatch.StartNew();
        var deadline = DateTime.UtcNow + TimeSpan.FromHours(2);
        try
        {
            // What an engine killed during an export left in this QEMU (a job, a node) would block this one.
            await JobGoneAsync(qmp);
            await RemoveExportNodeAsync(qmp);
            await qmp.ExecuteAsync("blockdev-add", new Dictionary<string, object>
            {
                ["driver"] = "qcow2",
                ["node-name"] = ExportNode,
                ["file"] = new Dictionary<string, object> { ["driver"] = "file", ["filename"] = target },
            }, cancellationToken: cancellationToken);
            added = true;
            try
            {
                if (pause)
                {
                    paused.Restart();
                    await qmp.StopAsync(cancellationToken);
                }

                await qmp.ExecuteAsync("blockdev-backup", new Dictionary<string, object>
                {
                    ["job-id"] = ExportNode,
                    ["device"] = QemuCommandLine.RootDrive,
                    ["target"] = ExportNode,
                    ["sync"] = "full",
                    ["auto-dismiss"] = false,
                    // A few small buffers: QEMU's memory counts against the guest's cgroup.
                    ["x-perf"] = new Dictionary<string, object> { ["max-workers"] = 4 },
                }, cancellationToken: cancellationToken);
            }
            finally
            {
                if (pause)
                {
                    await ResumeAsync(paths, qmp);
                }

                paused.Stop();
            }

            while (true)
            {
                var job = (await qmp.ExecuteAsync("query-jobs", cancellationToken: cancellationToken)).EnumerateArray()
                    .FirstOrDefault(j => j.GetProperty("id").GetString() == ExportNode);
                if (job.ValueKind == JsonValueKind.Undefined)
                {
                    throw new EngineException(EngineErrorCode.HostFailure, "QEMU's backup job vanished before it concluded");
                }

                if (job.GetProperty("status").GetString() == "concluded")
                {
                    if (job.TryGetProperty("error", out var error))
                    {
                        throw new EngineException(EngineErrorCode.HostFailure, $"QEMU's backup job failed: {error.GetString()}");
                    }

                    return pause ? paused.Elapsed : TimeSpan.Zero;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new EngineException(EngineErrorCode.Timeout, "QEMU's backup job did not finish within 2 hours");
                }

                await Task.Delay(100, cancellationToken);
            }
        }
        catch (QmpException ex)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"QEMU refused the backup: {ex.Message}", null, ex);
        }
        finally
        {
            if (added)
            {
                await JobGoneAsync(qmp);
                await RemoveExportNodeAsync(qmp);
            }
        }
    }

    /// <summary>Removes the export's target node from QEMU (best effort: there may be none).</summary>
    private static async Task RemoveExportNodeAsync(QmpClient qmp)
    {
        try
        {
            await qmp.ExecuteAsync("blockdev-del", new Dictionary<string, object> { ["node-name"] = ExportNode }, cancellationToken: CancellationToken.None);
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException or TimeoutException)
        {
        }
    }

    /// <summary>QMP <c>cont</c> after a pause of ours, again on a new connection if the first one failed (never left paused by us).</summary>
    private static async Task ResumeAsync(QemuInstancePaths paths, QmpClient qmp)
    {
        try
        {
            await qmp.ContAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is QmpConnectionException or TimeoutException)
        {
            await using var again = await ConnectQmpAsync(paths, CancellationToken.None);
            await again.ContAsync(CancellationToken.None);
        }
    }

    /// <summary>Cancels the export job if it still runs and dismisses it (best effort: the target node can then go).</summary>
    private static async Task JobGoneAsync(QmpClient qmp)
    {
        try
        {
            for (var i = 0; i < 100; i++)
            {
                var job = (await qmp.ExecuteAsync("query-jobs", cancellationToken: CancellationToken.None)).EnumerateArray()
                    .FirstOrDefault(j => j.GetProperty("id").GetString() == ExportNode);
                if (job.ValueKind == JsonValueKind.Undefined)
                {
                    return;
                }

                var status = job.GetProperty("status").GetString();
                if (status == "concluded")
                {
                    await qmp.ExecuteAsync("job-dismiss", new Dictionary<string, object> { ["id"] = ExportNode }, cancellationToken: CancellationToken.None);
                    return;
                }

                if (status is "running" or "paused" or "ready" or "created" or "waiting" or "pending")
                {
                    await qmp.ExecuteAsync("job-cancel", new Dictionary<string, object> { ["id"] = ExportNode }, cancellationToken: CancellationToken.None);
                }

                await Task.Delay(100, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException or TimeoutException)
        {
        }
    }

    private string TryImageSha(string image)
    {
        try
        {
            return images.Get(image).Manifest.Sha256;
        }
        catch (EngineException)
        {
            return "";
        }
    }

    private async Task StartLockedAsync(string id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var paths = RequirePaths(id);
        var (status, _) = await ObserveAsync(paths, cancellationToken);
        if (status == InstanceStatus.Running)
        {
            return;
        }

        if (status == InstanceStatus.Frozen)
        {
            await using var qmp = await ConnectQmpAsync(paths, cancellationToken);
            await qmp.ContAsync(cancellationToken);
            return;
        }

        if (status == InstanceStatus.Transitioning)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"'{id}' is between states (its QEMU runs but the guest is neither running nor paused); stop it first");
        }

        var spec = ReadSpec(paths);
        var kernel = RequireKernel();
        var accel = await KvmProbe.GetAsync(kernel.Kernel);
        await bridge.EnsureAsync(cancellationToken);
        CleanUpStopped(id, paths);

        await using var revert = new Reverter();
        var port = PortName.For(id);
        if (!rulesApplied.ContainsKey(id))
        {
            if (!tableEnsured)
            {
                await antiSpoof.EnsureTableAsync(cancellationToken);
                tableEnsured = true;
            }

            revert.Add("anti-spoof rules", () =>
            {
                rulesApplied.TryRemove(id, out _);
                return antiSpoof.RemoveAsync(port, CancellationToken.None);
            });
            // The table drops everything from a guest port without a chain, so the order does not matter.
            await antiSpoof.ApplyAsync(port, spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, spec.Limits.PortSpeedMbit, cancellationToken);
            rulesApplied[id] = true;
        }

        var cgroup = new QemuCgroup(id, host.CgroupMode);
        revert.Add("cgroup", cgroup.Remove);
        cgroup.Apply(spec.Limits, !accel.Kvm);

        // QEMU opens the TAP itself (not persistent): when QEMU exits for any reason, the port goes with it.
        revert.Add("qemu", () => KillAsync(paths, CancellationToken.None));
        string[] args = ["-c", EnterCgroups, "vpspanel-qemu", .. cgroup.Directories, "--", Qemu, .. QemuCommandLine.Build(spec, paths, kernel, port, accel.Kvm)];
        var started = await runner.RunAsync("sh", args, new ProcessRunOptions(TimeSpan.FromSeconds(30)), cancellationToken);
        if (!started.Succeeded)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"QEMU did not start for '{id}' (exit {started.ExitCode}): {(started.StdErr.Length > 0 ? started.StdErr : started.StdOut).Trim()}");
        }

        await AttachPortAsync(port, cancellationToken);
        await shaper.ApplyAsync(port, spec.Limits.PortSpeedMbit, freshPort: true, cancellationToken);
        await WaitUntilUpAsync(id, paths, timeout, cancellationToken);
        revert.Success();
    }

    /// <summary>
    /// Waits until the guest is up: its console shows a login prompt (the guest's init has run its
    /// boot scripts and started getty) and the exec channel answers. Fails at once when QEMU exits.
    /// </summary>
    private static async Task WaitUntilUpAsync(string id, QemuInstancePaths paths, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (ReadPid(paths) is not { } pid || !IsQemuAlive(pid, paths))
            {
                throw new EngineException(EngineErrorCode.HostFailure, $"the guest '{id}' stopped while booting: {ConsoleTail(paths)}");
            }

            if (ConsoleText(paths).Contains("login:", StringComparison.Ordinal)
                && await QemuExecChannel.AnswersAsync(paths.Exec, TimeSpan.FromSeconds(5), cancellationToken))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new EngineException(EngineErrorCode.Timeout, FormattableString.Invariant($"the guest '{id}' did not boot within {timeout.TotalSeconds:0} s: {ConsoleTail(paths)}"));
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private async Task StopLockedAsync(string id, TimeSpan grace, CancellationToken cancellationToken)
    {
        var paths = RequirePaths(id);
        var (status, pid) = await ObserveAsync(paths, cancellationToken);
        if (status != InstanceStatus.Stopped && pid is { } p)
        {
            if (grace > TimeSpan.Zero)
            {
                await AskToPowerOffAsync(paths, status, cancellationToken);
                await WaitForExitAsync(p, paths, grace, cancellationToken);
            }

            if (IsQemuAlive(p, paths))
            {
                await KillAsync(paths, cancellationToken);
            }
        }

        CleanUpStopped(id, paths);
    }

    /// <summary>Asks the guest to power off: its own <c>poweroff</c> through the exec channel (any init), and ACPI (guests with acpid).</summary>
    private static async Task AskToPowerOffAsync(QemuInstancePaths paths, InstanceStatus status, CancellationToken cancellationToken)
    {
        try
        {
            await using var qmp = await ConnectQmpAsync(paths, cancellationToken);
            if (status == InstanceStatus.Frozen)
            {
                await qmp.ContAsync(cancellationToken);
            }

            await qmp.SystemPowerdownAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException or TimeoutException or EngineException)
        {
            // Then only the exec channel, or the kill after the grace period.
        }

        try
        {
            // poweroff returns at once (init does the work); the guest may go before the answer comes.
            await QemuExecChannel.RunAsync(paths.Exec, ["poweroff"], null, TimeSpan.FromSeconds(2), cancellationToken);
        }
        catch (EngineException)
        {
        }
    }

    /// <summary>QMP <c>quit</c>, then SIGKILL: QEMU is gone when this returns.</summary>
    private static async Task KillAsync(QemuInstancePaths paths, CancellationToken cancellationToken)
    {
        if (ReadPid(paths) is not { } pid || !IsQemuAlive(pid, paths))
        {
            return;
        }

        try
        {
            await using var qmp = await ConnectQmpAsync(paths, cancellationToken, TimeSpan.FromSeconds(2));
            await qmp.QuitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException or TimeoutException or EngineException)
        {
        }

        await WaitForExitAsync(pid, paths, TimeSpan.FromSeconds(3), cancellationToken);
        if (IsQemuAlive(pid, paths))
        {
            try
            {
                System.Diagnostics.Process.GetProcessById(pid).Kill();
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }

            await WaitForExitAsync(pid, paths, TimeSpan.FromSeconds(10), cancellationToken);
            if (IsQemuAlive(pid, paths))
            {
                throw new EngineException(EngineErrorCode.HostFailure, $"QEMU (pid {pid}) did not exit after SIGKILL");
            }
        }
    }

    private static async Task WaitForExitAsync(int pid, QemuInstancePaths paths, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + limit;
        while (IsQemuAlive(pid, paths) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Removes what a stopped guest does not need: its pid file, sockets and cgroup (the TAP went with QEMU).</summary>
    private void CleanUpStopped(string id, QemuInstancePaths paths)
    {
        foreach (var f in new[] { paths.PidFile, paths.Qmp, paths.Console, paths.Exec })
        {
            File.Delete(f);
        }

        new QemuCgroup(id, host.CgroupMode).Remove();
    }

    private async Task AttachPortAsync(string port, CancellationToken cancellationToken)
    {
        (await runner.RunAsync("ip", ["link", "set", port, "master", options.BridgeName], null, cancellationToken)).ThrowIfFailed();
        (await runner.RunAsync("ip", ["link", "set", port, "up"], null, cancellationToken)).ThrowIfFailed();
    }

    /// <summary>The observed status: no live QEMU (by pid file and /proc) is stopped; otherwise QMP's run state.</summary>
    private static async Task<(InstanceStatus Status, int? Pid)> ObserveAsync(QemuInstancePaths paths, CancellationToken cancellationToken)
    {
        if (ReadPid(paths) is not { } pid || !IsQemuAlive(pid, paths))
        {
            return (InstanceStatus.Stopped, null);
        }

        try
        {
            await using var qmp = await ConnectQmpAsync(paths, cancellationToken, TimeSpan.FromSeconds(5));
            var s = await qmp.QueryStatusAsync(cancellationToken);
            return (s.Status switch
            {
                "running" => InstanceStatus.Running,
                "paused" => InstanceStatus.Frozen,
                _ => InstanceStatus.Transitioning,
            }, pid);
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException or TimeoutException or EngineException)
        {
            // QEMU exited meanwhile, or its monitor is busy with another client.
            return IsQemuAlive(pid, paths) ? (InstanceStatus.Transitioning, pid) : (InstanceStatus.Stopped, null);
        }
    }

    private static int? ReadPid(QemuInstancePaths paths)
    {
        try
        {
            return int.TryParse(File.ReadAllText(paths.PidFile).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Whether <paramref name="pid"/> is this guest's QEMU (not a recycled pid), alive and not a zombie.</summary>
    private static bool IsQemuAlive(int pid, QemuInstancePaths paths)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            if (state is "Z" or "X")
            {
                return false;
            }

            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains(paths.PidFile, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task<QmpClient> ConnectQmpAsync(QemuInstancePaths paths, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        try
        {
            return await QmpClient.ConnectAsync(paths.Qmp, timeout ?? TimeSpan.FromSeconds(10), cancellationToken);
        }
        catch (QmpConnectionException ex)
        {
            throw new EngineException(EngineErrorCode.HostFailure, ex.Message, null, ex);
        }
    }

    private static async Task RunQmpSnapshotAsync(Func<Task> command)
    {
        try
        {
            await command();
        }
        catch (QmpException ex)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"QEMU refused the snapshot command: {ex.Message}", "Snapshot", ex);
        }
    }

    private static void ValidateSnapshotName(string name)
    {
        SpecValidator.ValidateSnapshotName(name);
        if (!QmpClient.IsValidSnapshotTag(name))
        {
            // QEMU also matches a snapshot name against snapshot ids (numbers), so names start with a letter.
            throw EngineException.Invalid("Snapshot", "a QEMU snapshot name starts with a letter and has 1-64 letters, digits, dots, dashes and underscores");
        }
    }

    private async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(QemuInstancePaths paths, CancellationToken cancellationToken)
    {
        using var doc = await ImageInfoAsync(paths.Disk, cancellationToken);
        if (!doc.RootElement.TryGetProperty("snapshots", out var snaps))
        {
            return [];
        }

        return [.. snaps.EnumerateArray()
            .Select(s => new SnapshotInfo(
                s.GetProperty("name").GetString() ?? "",
                DateTime.UnixEpoch.AddSeconds(s.GetProperty("date-sec").GetInt64()),
                s.TryGetProperty("vm-state-size", out var vm) ? vm.GetInt64() : 0))
            .OrderBy(s => s.CreatedAt)];
    }

    private async Task<bool> HasVmStateAsync(QemuInstancePaths paths, string name, CancellationToken cancellationToken)
        => (await ListSnapshotsCoreAsync(paths, cancellationToken)).Any(s => s.Name == name && s.SizeBytes > 0);

    private async Task<JsonDocument> ImageInfoAsync(string file, CancellationToken cancellationToken)
    {
        // -U: QEMU holds the image's lock while the guest runs; reading its header is safe.
        var r = (await QemuImg(["info", "-U", "--output=json", file], cancellationToken)).ThrowIfFailed();
        return JsonDocument.Parse(r.StdOut);
    }

    /// <summary>
    /// The qcow2 base of an image, kept by this engine per image build (name + checksum): made from
    /// the image's <c>disk.qcow2</c> (hard link, else copy) or its <c>disk.ext4</c> (converted). An
    /// image rebuilt later gets a new base; overlays keep pointing at the one they were made over.
    /// </summary>
    private async Task<(string Path, long VirtualSize)> EnsureBaseAsync(ImageInfo image, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(VmsDirectory, ".bases");
        var name = $"{image.Manifest.Name}-{image.Manifest.Sha256[..16]}.qcow2";
        var path = Path.Combine(dir, name);
        var gate = BaseGates.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(dir);
                var tmp = path + ".tmp";
                File.Delete(tmp);
                var qcow2 = Path.Combine(image.Directory, "disk.qcow2");
                if (File.Exists(qcow2))
                {
                    if (!(await runner.RunAsync("ln", [qcow2, tmp], null, cancellationToken)).Succeeded)
                    {
                        (await runner.RunAsync("cp", ["--sparse=always", qcow2, tmp], new ProcessRunOptions(TimeSpan.FromMinutes(10)), cancellationToken)).ThrowIfFailed();
                    }
                }
                else if (File.Exists(image.Ext4Disk))
                {
                    (await QemuImg(["convert", "-q", "-O", "qcow2", image.Ext4Disk, tmp], cancellationToken)).ThrowIfFailed();
                }
                else
                {
                    throw EngineException.Invalid("Image", $"the {image.Manifest.Name} image has no disk form for virtual machines (./panel images {image.Manifest.Name} builds it)");
                }

                File.Move(tmp, path);
            }

            using var info = await ImageInfoAsync(path, cancellationToken);
            return (path, info.RootElement.GetProperty("virtual-size").GetInt64());
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task WriteConfigDiskAsync(InstanceSpec spec, GuestAccess guestAccess, QemuInstancePaths paths, CancellationToken cancellationToken, bool keepAccess = false)
    {
        var config = await GuestConfig.ForAsync(spec, guestAccess, network, access, cancellationToken) with { KeepGuestAccess = keepAccess };
        await configDisk.WriteAsync(paths.ConfigDisk, config, cancellationToken);
    }

    private Task<ProcessResult> QemuImg(IReadOnlyList<string> args, CancellationToken cancellationToken)
        => runner.RunAsync("qemu-img", args, new ProcessRunOptions(TimeSpan.FromMinutes(10)), cancellationToken);

    private QemuKernel RequireKernel()
        => QemuKernel.Find(options.ImagesDirectory)
           ?? throw new EngineException(EngineErrorCode.DriverUnavailable, $"no QEMU guest kernel in {options.ImagesDirectory}/kernels/qemu (./panel images kernels builds it)");

    private async Task RequireStatusAsync(string id, InstanceStatus wanted, string verb, CancellationToken cancellationToken)
    {
        var (status, _) = await ObserveAsync(RequirePaths(id), cancellationToken);
        if (status != wanted)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"cannot {verb} '{id}': it is {status.ToString().ToLowerInvariant()}");
        }
    }

    private QemuInstancePaths PathsOf(string id)
    {
        SpecValidator.ValidateId(id);
        return new QemuInstancePaths(Path.Combine(VmsDirectory, id));
    }

    private QemuInstancePaths RequirePaths(string id)
    {
        var paths = PathsOf(id);
        if (!File.Exists(paths.Spec))
        {
            throw new EngineException(EngineErrorCode.NotFound, $"no instance '{id}' on this node", "Id");
        }

        return paths;
    }

    private static void WriteSpec(QemuInstancePaths paths, InstanceSpec spec)
    {
        // The password is never stored: only its hash lives, on the config disk.
        var stored = spec with { Access = spec.Access with { RootPassword = null } };
        var tmp = paths.Spec + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(stored, Json));
        File.Move(tmp, paths.Spec, overwrite: true);
    }

    private static InstanceSpec ReadSpec(QemuInstancePaths paths)
        => JsonSerializer.Deserialize<InstanceSpec>(File.ReadAllText(paths.Spec))
           ?? throw new EngineException(EngineErrorCode.HostFailure, $"{paths.Spec} is empty");

    private static string ConsoleText(QemuInstancePaths paths)
    {
        try
        {
            using var stream = new FileStream(paths.ConsoleLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static string ConsoleTail(QemuInstancePaths paths)
    {
        var lines = ConsoleText(paths).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(the console printed nothing)" : string.Join(" | ", lines.TakeLast(5));
    }

    private static string Bytes(long value) => value.ToString(CultureInfo.InvariantCulture);
}
