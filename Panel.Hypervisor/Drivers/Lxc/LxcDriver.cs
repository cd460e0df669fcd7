using System.Globalization;
using System.Text.Json;
using Panel.Hypervisor.Cgroups;
using Panel.Hypervisor.Concurrency;
using Panel.Hypervisor.Consoles;
using Panel.Hypervisor.Guest;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Images;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Hypervisor.Storage;

namespace Panel.Hypervisor.Drivers.Lxc;

/// <summary>
/// OS-level VPSes: system containers started with LXC's own tools. Each has its own init,
/// hostname and PID, mount, network, IPC and UTS namespaces; cgroup limits on memory, CPU and
/// tasks; a copy-on-write disk with a hard quota; a pinned port on the node bridge; and lxcfs
/// masking so <c>free</c>, <c>nproc</c> and <c>uptime</c> show the VPS, not the host.
/// Containers are daemonized by <c>lxc-start -d</c>: they outlive the engine, which finds them again.
/// </summary>
public sealed class LxcDriver : IInstanceDriver
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(10);

    private readonly EngineOptions options;
    private readonly IProcessRunner runner;
    private readonly InstanceLocks locks;
    private readonly ImageStore images;
    private readonly GuestNetwork network;
    private readonly NodeBridge bridge;
    private readonly AntiSpoofRules antiSpoof;
    private readonly PortShaper shaper;
    private readonly Lxcfs lxcfs;
    private readonly GuestAccessWriter access;
    private readonly DiskPool diskPool;
    private readonly HostFacts host;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> rulesApplied = new(StringComparer.Ordinal);
    private volatile bool tableEnsured;

    /// <summary>Creates the driver for one node's engine options.</summary>
    public LxcDriver(EngineOptions options, IProcessRunner? runner = null, InstanceLocks? locks = null)
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
        lxcfs = new Lxcfs(options.LxcfsDirectory, Path.Combine(options.StateDirectory, "run", "lxcfs.pid"), this.runner);
        access = new GuestAccessWriter(this.runner);
        diskPool = new DiskPool(Path.Combine(options.StateDirectory, "pool"), this.runner);
        host = HostProbe.Read();
    }

    /// <inheritdoc />
    public string Name => "lxc";

    /// <inheritdoc />
    public VirtualizationKind Kind => VirtualizationKind.Container;

    /// <summary>The node's guest network (for allocators and tests).</summary>
    public GuestNetwork Network => network;

    /// <summary>The pool of ready-made disks (warm it with <see cref="DiskPool.Refill"/> for the plans' sizes).</summary>
    public DiskPool DiskPool => diskPool;

    private string LxcPath => options.InstancesDirectory;

    /// <inheritdoc />
    public async Task<DriverInfo> ProbeAsync(ProbeOptions probe, CancellationToken cancellationToken = default)
    {
        var features = new List<string> { "cgroup:" + host.CgroupMode.ToString().ToLowerInvariant() };
        string? version = null;
        try
        {
            var v = await runner.RunAsync("lxc-start", ["--version"], new ProcessRunOptions(TimeSpan.FromSeconds(10)), cancellationToken);
            version = v.Succeeded ? v.StdOut.Trim() : null;
        }
        catch (EngineException)
        {
        }

        if (version is null)
        {
            return new DriverInfo(Name, Kind, null, features, false, "LXC is not installed (Debian package lxc)");
        }

        if (Environment.UserName != "root")
        {
            return new DriverInfo(Name, Kind, version, features, false, "the engine must run as root to create system containers");
        }

        if (host.CgroupMode == CgroupMode.None)
        {
            return new DriverInfo(Name, Kind, version, features, false, "no cgroup filesystem is mounted");
        }

        if (File.Exists("/usr/bin/lxcfs"))
        {
            features.Add("lxcfs");
        }

        features.Add("overlay-disk-quota");
        features.Add("nftables-antispoof");
        return new DriverInfo(Name, Kind, version, features, true, null);
    }

    /// <inheritdoc />
    public async Task CreateAsync(CreateOptions create, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(create);
        var spec = create.Spec;
        SpecValidator.Validate(spec, network);
        var image = images.Get(spec.Image);

        using var held = await locks.AcquireAsync(spec.Id, cancellationToken);
        var dir = InstanceDir(spec.Id);
        if (Directory.Exists(dir))
        {
            throw new EngineException(EngineErrorCode.AlreadyExists, $"an instance '{spec.Id}' already exists on this node", "Id");
        }

        await using var revert = new Reverter();
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        revert.Add("instance folder", () => DeleteTreeAsync(dir, CancellationToken.None));

        var disk = new InstanceDisk(dir, runner);
        await disk.CreateAsync(spec.Limits.DiskBytes, diskPool, cancellationToken);
        // Registered before mounting: a mount that fails half-way (disk yes, overlay no) is undone too.
        revert.Add("mounts", () => disk.UnmountAsync(CancellationToken.None));
        await disk.MountAsync(image.RootFs, cancellationToken);

        var files = new GuestFiles(disk.RootFs);
        GuestAccessWriter.WriteHostname(files, spec.Hostname);
        await access.WriteAccessAsync(files, spec.Access, cancellationToken);
        WriteSpec(dir, spec);
        WriteConfig(dir, spec, disk);
        // The mounts stay: a created VPS is almost always started next (stop and recover unmount).
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
        await StopLockedAsync(restart.Id, restart.GracePeriod ?? DefaultGrace, cancellationToken);
        await StartLockedAsync(restart.Id, DefaultStartTimeout, cancellationToken);
    }

    /// <inheritdoc />
    public async Task FreezeAsync(FreezeOptions freeze, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(freeze);
        using var held = await locks.AcquireAsync(freeze.Id, cancellationToken);
        await RequireStatusAsync(freeze.Id, InstanceStatus.Running, "freeze", cancellationToken);
        (await Lxc("lxc-freeze", freeze.Id, [], cancellationToken)).ThrowIfFailed();
    }

    /// <inheritdoc />
    public async Task UnfreezeAsync(FreezeOptions freeze, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(freeze);
        using var held = await locks.AcquireAsync(freeze.Id, cancellationToken);
        await RequireStatusAsync(freeze.Id, InstanceStatus.Frozen, "unfreeze", cancellationToken);
        (await Lxc("lxc-unfreeze", freeze.Id, [], cancellationToken)).ThrowIfFailed();
    }

    /// <inheritdoc />
    public async Task DeleteAsync(DeleteOptions delete, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delete);
        SpecValidator.ValidateId(delete.Id);
        using var held = await locks.AcquireAsync(delete.Id, cancellationToken);
        var dir = InstanceDir(delete.Id);
        if (!Directory.Exists(dir))
        {
            await antiSpoof.RemoveAsync(PortName.For(delete.Id), cancellationToken); // a half-deleted leftover
            return;
        }

        var status = await StatusAsync(delete.Id, cancellationToken);
        if (status is InstanceStatus.Running or InstanceStatus.Frozen or InstanceStatus.Transitioning)
        {
            if (!delete.Force)
            {
                throw new EngineException(EngineErrorCode.InvalidState, $"'{delete.Id}' is {status.ToString().ToLowerInvariant()}; stop it first or delete with force");
            }

            await StopLockedAsync(delete.Id, TimeSpan.Zero, cancellationToken);
        }

        await antiSpoof.RemoveAsync(PortName.For(delete.Id), cancellationToken);
        rulesApplied.TryRemove(delete.Id, out _);
        await new InstanceDisk(dir, runner).UnmountAsync(cancellationToken);
        await DeleteTreeAsync(dir, cancellationToken);
    }

    /// <inheritdoc />
    public async Task UpdateLimitsAsync(UpdateLimitsOptions update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        SpecValidator.ValidateLimits(update.Limits);
        using var held = await locks.AcquireAsync(update.Id, cancellationToken);
        var dir = RequireDir(update.Id);
        var spec = ReadSpec(dir);
        var disk = new InstanceDisk(dir, runner);
        await disk.GrowAsync(update.Limits.DiskBytes, cancellationToken);

        var updated = spec with { Limits = update.Limits };
        WriteSpec(dir, updated);
        WriteConfig(dir, updated, disk);
        if (await StatusAsync(update.Id, cancellationToken) is InstanceStatus.Running or InstanceStatus.Frozen)
        {
            // Live: cpuset first widened or narrowed, then the rest.
            foreach (var (key, value) in LxcConfig.CgroupLimits(spec.Id, update.Limits, host.CgroupMode, host.CpuCount))
            {
                (await Lxc("lxc-cgroup", update.Id, [key, value], cancellationToken)).ThrowIfFailed();
            }

            await shaper.ApplyAsync(PortName.For(update.Id), update.Limits.PortSpeedMbit, false, cancellationToken);
            await antiSpoof.ApplyAsync(PortName.For(update.Id), spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, update.Limits.PortSpeedMbit, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<InstanceState> GetStateAsync(StateOptions state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        SpecValidator.ValidateId(state.Id);
        var dir = InstanceDir(state.Id);
        if (!File.Exists(Path.Combine(dir, "config")))
        {
            return new InstanceState(state.Id, InstanceStatus.Missing, null, null);
        }

        var (status, pid) = await InfoAsync(state.Id, cancellationToken);
        InstanceMetrics? metrics = null;
        if (state.WithMetrics && pid is { } p && status is InstanceStatus.Running or InstanceStatus.Frozen)
        {
            var cg = CgroupStats.Read(p, "lxc.payload." + state.Id, host.CgroupMode);
            var usage = new InstanceDisk(dir, runner).Usage();
            var (rx, tx) = PortCounters.Read(PortName.For(state.Id));
            metrics = new InstanceMetrics(
                cg?.CpuTime ?? TimeSpan.Zero,
                cg?.MemoryBytes ?? 0,
                cg?.MemoryLimitBytes ?? 0,
                cg?.Processes ?? 0,
                usage?.Used ?? 0,
                usage?.Total ?? 0,
                rx,
                tx);
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

        RequireDir(exec.Id);
        var status = await StatusAsync(exec.Id, cancellationToken);
        if (status != InstanceStatus.Running)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"'{exec.Id}' is {status.ToString().ToLowerInvariant()}; exec needs it running");
        }

        string[] args =
        [
            "-P", LxcPath, "-n", exec.Id, "--clear-env",
            "-v", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "-v", "HOME=/root", "-v", "TERM=dumb",
            "--", .. exec.Command,
        ];
        var r = await runner.RunAsync("lxc-attach", args, new ProcessRunOptions(exec.Timeout ?? TimeSpan.FromSeconds(60), exec.StdIn), cancellationToken);
        return new ExecResult(r.ExitCode, r.StdOut, r.StdErr);
    }

    /// <inheritdoc />
    public async Task<IConsoleSession> OpenConsoleAsync(ConsoleOptions console, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        RequireDir(console.Id);
        var status = await StatusAsync(console.Id, cancellationToken);
        if (status != InstanceStatus.Running)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"'{console.Id}' is {status.ToString().ToLowerInvariant()}; its console needs it running");
        }

        // lxc-console attaches to the container's console (tty 0, where its getty runs) and needs a
        // terminal: it gets a pty of its own. Ctrl-a q would detach; the web terminal never sends it.
        return PtyProcess.Start("lxc-console", ["-P", LxcPath, "-n", console.Id, "-t", "0", "-e", "^a"], console.Columns, console.Rows);
    }

    /// <inheritdoc />
    public async Task ResetAccessAsync(ResetAccessOptions reset, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reset);
        SpecValidator.ValidateAccess(reset.Access);
        using var held = await locks.AcquireAsync(reset.Id, cancellationToken);
        var dir = RequireDir(reset.Id);
        // Written offline: the guest cannot race the symlink checks while it is stopped.
        await WithGuestStoppedAsync(reset.Id, dir, async disk =>
        {
            await access.WriteAccessAsync(new GuestFiles(disk.RootFs), reset.Access, cancellationToken);
            WriteSpec(dir, ReadSpec(dir) with { Access = reset.Access });
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<SnapshotInfo> CreateSnapshotAsync(SnapshotOptions snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        SpecValidator.ValidateSnapshotName(snapshot.Name);
        using var held = await locks.AcquireAsync(snapshot.Id, cancellationToken);
        var dir = RequireDir(snapshot.Id);
        var target = Path.Combine(dir, "snapshots", snapshot.Name);
        if (Directory.Exists(target))
        {
            throw new EngineException(EngineErrorCode.AlreadyExists, $"snapshot '{snapshot.Name}' exists", "Snapshot");
        }

        var spec = ReadSpec(dir);
        var status = await StatusAsync(snapshot.Id, cancellationToken);
        var disk = new InstanceDisk(dir, runner);
        var frozen = false;
        if (status == InstanceStatus.Stopped)
        {
            await disk.MountAsync(images.Get(spec.Image).RootFs, cancellationToken);
        }
        else if (status == InstanceStatus.Running)
        {
            // A consistent copy: the guest's processes are paused while its layer is copied.
            (await Lxc("lxc-freeze", snapshot.Id, [], cancellationToken)).ThrowIfFailed();
            frozen = true;
        }

        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var tmp = target + ".partial";
            await DeleteTreeAsync(tmp, cancellationToken);
            (await runner.RunAsync("cp", ["-a", "--reflink=auto", disk.Upper, tmp], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
            Directory.Move(tmp, target);
            File.WriteAllText(Path.Combine(dir, "snapshots", snapshot.Name + ".created"), DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        }
        finally
        {
            if (frozen)
            {
                await Lxc("lxc-unfreeze", snapshot.Id, [], CancellationToken.None);
            }
        }

        return (await ListSnapshotsCoreAsync(dir)).Single(s => s.Name == snapshot.Name);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string id, CancellationToken cancellationToken = default)
        => ListSnapshotsCoreAsync(RequireDir(id));

    /// <inheritdoc />
    public async Task RestoreSnapshotAsync(SnapshotOptions snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        SpecValidator.ValidateSnapshotName(snapshot.Name);
        using var held = await locks.AcquireAsync(snapshot.Id, cancellationToken);
        var dir = RequireDir(snapshot.Id);
        var source = Path.Combine(dir, "snapshots", snapshot.Name);
        if (!Directory.Exists(source))
        {
            throw new EngineException(EngineErrorCode.NotFound, $"no snapshot '{snapshot.Name}'", "Snapshot");
        }

        var spec = ReadSpec(dir);
        await WithGuestStoppedAsync(snapshot.Id, dir, async disk =>
        {
            try
            {
                // Unmount the overlay (keep the disk) so the upper layer can be swapped underneath it.
                await runner.RunAsync("umount", [disk.RootFs], null, cancellationToken);
                var staged = disk.Upper + ".restore";
                await DeleteTreeAsync(staged, cancellationToken);
                (await runner.RunAsync("cp", ["-a", "--reflink=auto", source, staged], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
                var old = disk.Upper + ".old";
                Directory.Move(disk.Upper, old);
                Directory.Move(staged, disk.Upper);
                await DeleteTreeAsync(old, cancellationToken);
                await DeleteTreeAsync(Path.Combine(disk.DiskMount, "work"), cancellationToken);
            }
            finally
            {
                await disk.MountAsync(images.Get(spec.Image).RootFs, CancellationToken.None);
            }
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task DeleteSnapshotAsync(SnapshotOptions snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        SpecValidator.ValidateSnapshotName(snapshot.Name);
        using var held = await locks.AcquireAsync(snapshot.Id, cancellationToken);
        var dir = RequireDir(snapshot.Id);
        await DeleteTreeAsync(Path.Combine(dir, "snapshots", snapshot.Name), cancellationToken);
        File.Delete(Path.Combine(dir, "snapshots", snapshot.Name + ".created"));
    }

    /// <summary>
    /// The container's disk: its sparse ext4 file (<c>disk.img</c>, the VPS's own layer over the image). While the
    /// file is copied the container is frozen (lxc-freeze) and its filesystem frozen on the host (fsfreeze: flushed and
    /// consistent on disk, as if cleanly unmounted), so a running VPS pauses only for a sparse copy.
    /// Restoring it needs the same image build on the target node (the manifest records it).
    /// </summary>
    public async Task<DiskExport> ExportDisksAsync(ExportDisksOptions export, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(export);
        using var held = await locks.AcquireAsync(export.Id, cancellationToken);
        var dir = RequireDir(export.Id);
        var spec = ReadSpec(dir);
        var image = images.Get(spec.Image);
        var disk = new InstanceDisk(dir, runner);
        var status = await StatusAsync(export.Id, cancellationToken);
        var frozen = false;
        var fsFrozen = false;
        try
        {
            if (status == InstanceStatus.Running)
            {
                (await Lxc("lxc-freeze", export.Id, [], cancellationToken)).ThrowIfFailed();
                frozen = true;
            }

            if (MountTable.IsMounted(disk.DiskMount))
            {
                (await runner.RunAsync("fsfreeze", ["-f", disk.DiskMount], null, cancellationToken)).ThrowIfFailed();
                fsFrozen = true;
            }

            (await runner.RunAsync("cp", ["--sparse=always", "--", disk.ImageFile, Path.Combine(export.Folder, "disk.img")],
                new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
        }
        finally
        {
            if (fsFrozen)
            {
                await runner.RunAsync("fsfreeze", ["-u", disk.DiskMount], null, CancellationToken.None);
            }

            if (frozen)
            {
                await Lxc("lxc-unfreeze", export.Id, [], CancellationToken.None);
            }
        }

        var consistency = (status, fsFrozen) switch
        {
            (InstanceStatus.Running, _) => "frozen: container frozen and its disk's filesystem frozen (flushed) while the disk was copied",
            (InstanceStatus.Frozen, _) => "frozen: container frozen already, its disk's filesystem frozen (flushed) while the disk was copied",
            (_, true) => "stopped: its disk's filesystem frozen (flushed) while the disk was copied",
            _ => "stopped: disk not mounted",
        };
        return new DiskExport(spec, image.Manifest.Sha256, ["disk.img"], consistency);
    }

    /// <summary>
    /// Takes a <c>disk.img</c> made by <see cref="ExportDisksAsync"/>: replaces the instance's disk (the container is
    /// killed first when it runs: its disk is replaced) or creates a new instance on it. The image build must be
    /// the backup's, since the disk holds only the VPS's own layer over it. A larger plan grows the disk.
    /// </summary>
    public async Task ImportDisksAsync(ImportDisksOptions import, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(import);
        if (!import.Files.SequenceEqual(["disk.img"]))
        {
            throw new EngineException(EngineErrorCode.CorruptBackup, $"an LXC backup holds disk.img, not {string.Join(", ", import.Files)}", "Archive");
        }

        var staged = Path.Combine(import.Folder, "disk.img");
        var size = new FileInfo(staged).Length;
        using var held = await locks.AcquireAsync(import.Spec.Id, cancellationToken);
        var spec = import.Replace ? ReadSpec(RequireDir(import.Spec.Id)) : import.Spec;
        if (!import.Replace)
        {
            SpecValidator.Validate(spec, network);
        }

        var image = images.Get(spec.Image);
        if (!string.IsNullOrEmpty(import.ImageSha256) && image.Manifest.Sha256 != import.ImageSha256)
        {
            throw EngineException.Invalid("Image", $"the backup holds a layer over image '{spec.Image}' build {import.ImageSha256[..12]}; this node has build {image.Manifest.Sha256[..12]}");
        }

        if (size > spec.Limits.DiskBytes)
        {
            throw EngineException.Invalid("Limits.DiskBytes", FormattableString.Invariant($"the backup's disk has {size} bytes; the plan's disk ({spec.Limits.DiskBytes}) cannot be smaller"));
        }

        var dir = InstanceDir(spec.Id);
        if (import.Replace)
        {
            var wasRunning = await StatusAsync(spec.Id, cancellationToken) != InstanceStatus.Stopped;
            if (wasRunning)
            {
                await StopLockedAsync(spec.Id, TimeSpan.Zero, cancellationToken);
            }

            var disk = new InstanceDisk(dir, runner);
            await disk.UnmountAsync(cancellationToken);
            await PlaceDiskAsync(disk, staged, size, spec.Limits.DiskBytes, cancellationToken);
            await disk.MountAsync(image.RootFs, cancellationToken);
            if (wasRunning || import.Start)
            {
                await StartLockedAsync(spec.Id, DefaultStartTimeout, cancellationToken);
            }

            return;
        }

        await CreateOnDiskLockedAsync(spec, image, import.KeepGuestAccess, disk => PlaceDiskAsync(disk, staged, size, spec.Limits.DiskBytes, cancellationToken), cancellationToken);
        if (import.Start)
        {
            await StartLockedAsync(spec.Id, DefaultStartTimeout, cancellationToken);
        }
    }

    /// <summary>
    /// A new, stopped container from another's snapshot. The image stays shared (the overlay's lower layer, as for
    /// every container); the snapshot's own layer is copied into the clone's new quota disk (<c>cp -a --reflink=auto</c>,
    /// a real copy since it crosses into that disk's filesystem): copy-on-write of the layer itself would need a third
    /// overlay layer tying the clone to the source's snapshot. The source is never touched.
    /// </summary>
    public async Task CloneAsync(CloneOptions clone, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clone);
        SpecValidator.ValidateSnapshotName(clone.Snapshot);
        if (clone.Spec.Id == clone.SourceId)
        {
            throw EngineException.Invalid("Id", "a clone needs an id of its own");
        }

        using var source = await locks.AcquireAsync(clone.SourceId, cancellationToken);
        var sourceDir = RequireDir(clone.SourceId);
        var snapshotDir = Path.Combine(sourceDir, "snapshots", clone.Snapshot);
        if (!Directory.Exists(snapshotDir))
        {
            throw new EngineException(EngineErrorCode.NotFound, $"'{clone.SourceId}' has no snapshot '{clone.Snapshot}'", "Snapshot");
        }

        var spec = clone.Spec with { Image = ReadSpec(sourceDir).Image };
        SpecValidator.Validate(spec, network);
        var image = images.Get(spec.Image);
        using var held = await locks.AcquireAsync(spec.Id, cancellationToken);
        await CreateOnDiskLockedAsync(spec, image, keepAccess: false, async disk =>
        {
            await disk.CreateAsync(spec.Limits.DiskBytes, diskPool, cancellationToken);
            await disk.MountAsync(image.RootFs, cancellationToken);
            // The layer goes in underneath the overlay: unmount it (the disk stays), copy, mount again.
            (await runner.RunAsync("umount", [disk.RootFs], null, cancellationToken)).ThrowIfFailed();
            (await runner.RunAsync("cp", ["-a", "--reflink=auto", "--", snapshotDir + "/.", disk.Upper], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListAsync(ListOptions list, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(LxcPath))
        {
            return Task.FromResult<IReadOnlyList<string>>([]);
        }

        IReadOnlyList<string> ids = Directory.EnumerateDirectories(LxcPath)
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
            var (status, _) = await InfoAsync(id, cancellationToken);
            if (status is InstanceStatus.Running or InstanceStatus.Frozen)
            {
                // Re-assert what a host reboot or a crash between steps may have lost.
                var spec = ReadSpec(InstanceDir(id));
                await lxcfs.EnsureAsync(cancellationToken);
                await antiSpoof.ApplyAsync(PortName.For(id), spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, spec.Limits.PortSpeedMbit, cancellationToken);
                rulesApplied[id] = true;
                await shaper.ApplyAsync(PortName.For(id), spec.Limits.PortSpeedMbit, false, cancellationToken);
            }
            else if (status == InstanceStatus.Stopped)
            {
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
    /// Creates an instance like <see cref="CreateAsync"/> on a disk that <paramref name="placeDisk"/> provides (a backup's, a clone's):
    /// mounts it over the image, writes the host name (and access unless kept), spec and config. Nothing is left on failure. Caller holds the lock.
    /// </summary>
    private async Task CreateOnDiskLockedAsync(InstanceSpec spec, ImageInfo image, bool keepAccess, Func<InstanceDisk, Task> placeDisk, CancellationToken cancellationToken)
    {
        var dir = InstanceDir(spec.Id);
        if (Directory.Exists(dir))
        {
            throw new EngineException(EngineErrorCode.AlreadyExists, $"an instance '{spec.Id}' already exists on this node", "Id");
        }

        await using var revert = new Reverter();
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        revert.Add("instance folder", () => DeleteTreeAsync(dir, CancellationToken.None));
        var disk = new InstanceDisk(dir, runner);
        revert.Add("mounts", () => disk.UnmountAsync(CancellationToken.None));
        await placeDisk(disk);
        await disk.MountAsync(image.RootFs, cancellationToken);
        var files = new GuestFiles(disk.RootFs);
        GuestAccessWriter.WriteHostname(files, spec.Hostname);
        if (!keepAccess)
        {
            await access.WriteAccessAsync(files, spec.Access, cancellationToken);
        }

        WriteSpec(dir, spec);
        WriteConfig(dir, spec, disk);
        revert.Success();
    }

    /// <summary>Moves a backup's disk file into place (the disk unmounted), grown to the plan; checked and resized at its next mount.</summary>
    private static async Task PlaceDiskAsync(InstanceDisk disk, string staged, long size, long plan, CancellationToken cancellationToken)
    {
        File.Move(staged, disk.ImageFile + ".restore", overwrite: true);
        File.SetUnixFileMode(disk.ImageFile + ".restore", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(disk.ImageFile + ".restore", disk.ImageFile, overwrite: true);
        if (plan > size)
        {
            await disk.GrowAsync(plan, cancellationToken);
        }
        else
        {
            disk.MarkResizePending(); // e2fsck at the mount: the disk came from elsewhere
        }
    }

    private async Task StartLockedAsync(string id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var dir = RequireDir(id);
        var status = await StatusAsync(id, cancellationToken);
        if (status == InstanceStatus.Running)
        {
            return;
        }

        if (status == InstanceStatus.Frozen)
        {
            (await Lxc("lxc-unfreeze", id, [], cancellationToken)).ThrowIfFailed();
            return;
        }

        var spec = ReadSpec(dir);
        var image = images.Get(spec.Image);
        await bridge.EnsureAsync(cancellationToken);
        await lxcfs.EnsureAsync(cancellationToken);

        await using var revert = new Reverter();
        var disk = new InstanceDisk(dir, runner);
        if (!disk.IsMounted)
        {
            revert.Add("mounts", () => disk.UnmountAsync(CancellationToken.None));
            await disk.MountAsync(image.RootFs, cancellationToken);
        }

        // Anti-spoofing rules live from the first start to the delete; this engine process applies
        // them once (a host reboot or a new engine process starts with an empty record). The
        // table's default rule drops everything from a guest port without its own chain, so the
        // port's rules can be committed (slow: an RCU grace period) while lxc-start runs.
        var port = PortName.For(id);
        Task? rules = null;
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
            rules = antiSpoof.ApplyAsync(port, spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, spec.Limits.PortSpeedMbit, cancellationToken);
        }

        WriteConfig(dir, spec, disk);
        revert.Add("container", async () => await Lxc("lxc-stop", id, ["-k"], CancellationToken.None));
        ProcessResult started;
        try
        {
            started = await runner.RunAsync("lxc-start", ["-P", LxcPath, "-n", id, "-d", "-o", Path.Combine(dir, "lxc.log"), "-l", "WARN"],
                new ProcessRunOptions(timeout), cancellationToken);
        }
        finally
        {
            if (rules is not null)
            {
                await rules; // never return (or revert) before the port's rules are committed
            }
        }

        if (rules is not null)
        {
            rulesApplied[id] = true;
        }

        if (!started.Succeeded)
        {
            var log = File.Exists(Path.Combine(dir, "lxc.log")) ? File.ReadLines(Path.Combine(dir, "lxc.log")).TakeLast(5) : [];
            throw new EngineException(EngineErrorCode.HostFailure, $"lxc-start failed for '{id}': {started.StdErr.Trim()} {string.Join(" | ", log)}".Trim());
        }

        // lxc-start -d returns once LXC's monitor reports the container RUNNING (it waits on the
        // state socket), so no separate lxc-wait is needed; a timeout still bounds the call.
        await shaper.ApplyAsync(port, spec.Limits.PortSpeedMbit, freshPort: true, cancellationToken);
        revert.Success();
    }

    private async Task StopLockedAsync(string id, TimeSpan grace, CancellationToken cancellationToken)
    {
        var dir = RequireDir(id);
        var status = await StatusAsync(id, cancellationToken);
        if (status != InstanceStatus.Stopped)
        {
            if (status == InstanceStatus.Frozen)
            {
                await Lxc("lxc-unfreeze", id, [], cancellationToken);
            }

            var stopped = false;
            if (grace > TimeSpan.Zero)
            {
                // Ask the guest's own init to power off (works for busybox init and sysvinit alike).
                await runner.RunAsync("lxc-attach", ["-P", LxcPath, "-n", id, "--clear-env", "-v", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "--", "poweroff"],
                    new ProcessRunOptions(TimeSpan.FromSeconds(5)), cancellationToken);
                var seconds = Math.Max(1, (int)Math.Ceiling(grace.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                stopped = (await Lxc("lxc-wait", id, ["-s", "STOPPED", "-t", seconds], cancellationToken)).Succeeded;
            }

            if (!stopped)
            {
                (await Lxc("lxc-stop", id, ["-k"], cancellationToken)).ThrowIfFailed();
            }
        }

        // The disk stays mounted and the port's rules stay until delete: a stopped VPS starts again at
        // once. A disk growth the kernel could not do online is done now, while nothing uses the disk.
        var disk = new InstanceDisk(dir, runner);
        if (disk.ResizePending)
        {
            await disk.UnmountAsync(cancellationToken);
            await disk.MountAsync(images.Get(ReadSpec(dir).Image).RootFs, cancellationToken);
        }
    }

    /// <summary>Runs <paramref name="work"/> on the mounted disk of a stopped guest: stops it first if it runs, and starts it again after.</summary>
    private async Task WithGuestStoppedAsync(string id, string dir, Func<InstanceDisk, Task> work, CancellationToken cancellationToken)
    {
        var wasRunning = await StatusAsync(id, cancellationToken) != InstanceStatus.Stopped;
        if (wasRunning)
        {
            await StopLockedAsync(id, DefaultGrace, cancellationToken);
        }

        var disk = new InstanceDisk(dir, runner);
        await disk.MountAsync(images.Get(ReadSpec(dir).Image).RootFs, cancellationToken);
        await work(disk);
        if (wasRunning)
        {
            await StartLockedAsync(id, DefaultStartTimeout, cancellationToken);
        }
    }

    private async Task RequireStatusAsync(string id, InstanceStatus wanted, string verb, CancellationToken cancellationToken)
    {
        RequireDir(id);
        var status = await StatusAsync(id, cancellationToken);
        if (status != wanted)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"cannot {verb} '{id}': it is {status.ToString().ToLowerInvariant()}");
        }
    }

    private async Task<InstanceStatus> StatusAsync(string id, CancellationToken cancellationToken)
        => (await InfoAsync(id, cancellationToken)).Status;

    private async Task<(InstanceStatus Status, int? Pid)> InfoAsync(string id, CancellationToken cancellationToken)
    {
        // A container without its payload cgroup is not running: observed from the kernel, no process needed.
        if (!PayloadCgroupExists(id))
        {
            return (InstanceStatus.Stopped, null);
        }

        var r = await Lxc("lxc-info", id, ["-s", "-p", "-H"], cancellationToken);
        if (!r.Succeeded)
        {
            return (InstanceStatus.Stopped, null);
        }

        // "State:          RUNNING" / "PID:            1234"
        string? Field(string name) => r.StdOut.Split('\n')
            .Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            .Select(l => l[(name.Length + 1)..].Trim())
            .FirstOrDefault();
        var state = Field("State") ?? "STOPPED";
        int? pid = int.TryParse(Field("PID"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : null;
        return (state switch
        {
            "RUNNING" => InstanceStatus.Running,
            "FROZEN" => InstanceStatus.Frozen,
            "STOPPED" => InstanceStatus.Stopped,
            _ => InstanceStatus.Transitioning,
        }, pid);
    }

    private bool PayloadCgroupExists(string id)
    {
        var name = "lxc.payload." + id;
        return host.CgroupMode == CgroupMode.V2
            ? Directory.Exists(Path.Combine("/sys/fs/cgroup", name))
            : Directory.Exists(Path.Combine("/sys/fs/cgroup/pids", name)) || Directory.Exists(Path.Combine("/sys/fs/cgroup/memory", name));
    }

    private Task<ProcessResult> Lxc(string tool, string id, IReadOnlyList<string> args, CancellationToken cancellationToken)
        => runner.RunAsync(tool, ["-P", LxcPath, "-n", id, .. args], new ProcessRunOptions(TimeSpan.FromSeconds(90)), cancellationToken);

    private string InstanceDir(string id)
    {
        SpecValidator.ValidateId(id);
        return Path.Combine(LxcPath, id);
    }

    private string RequireDir(string id)
    {
        var dir = InstanceDir(id);
        if (!File.Exists(Path.Combine(dir, "spec.json")))
        {
            throw new EngineException(EngineErrorCode.NotFound, $"no instance '{id}' on this node", "Id");
        }

        return dir;
    }

    private void WriteConfig(string dir, InstanceSpec spec, InstanceDisk disk)
    {
        var config = LxcConfig.Build(spec, disk.RootFs, dir, options.BridgeName, network.GatewayCidr,
            network.Gateway6 is null ? null : $"{network.Gateway6}/{network.Subnet6!.Value.PrefixLength}", host.CgroupMode, host.CpuCount);
        File.WriteAllText(Path.Combine(dir, "config"), config);
    }

    private static void WriteSpec(string dir, InstanceSpec spec)
    {
        // The password is never stored: only its hash lives, inside the guest.
        var stored = spec with { Access = spec.Access with { RootPassword = null } };
        var tmp = Path.Combine(dir, "spec.json.tmp");
        File.WriteAllText(tmp, JsonSerializer.Serialize(stored, Json));
        File.Move(tmp, Path.Combine(dir, "spec.json"), overwrite: true);
    }

    private static InstanceSpec ReadSpec(string dir)
        => JsonSerializer.Deserialize<InstanceSpec>(File.ReadAllText(Path.Combine(dir, "spec.json")))
           ?? throw new EngineException(EngineErrorCode.HostFailure, $"{dir}/spec.json is empty");

    private static Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(string dir)
    {
        var root = Path.Combine(dir, "snapshots");
        if (!Directory.Exists(root))
        {
            return Task.FromResult<IReadOnlyList<SnapshotInfo>>([]);
        }

        IReadOnlyList<SnapshotInfo> list = Directory.EnumerateDirectories(root)
            .Where(d => !d.EndsWith(".partial", StringComparison.Ordinal))
            .Select(d =>
            {
                var name = Path.GetFileName(d);
                var stamp = Path.Combine(root, name + ".created");
                var created = File.Exists(stamp)
                    ? DateTime.Parse(File.ReadAllText(stamp), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)
                    : Directory.GetCreationTimeUtc(d);
                var size = new DirectoryInfo(d).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                    .Sum(f => f.LinkTarget is null ? f.Length : 0);
                return new SnapshotInfo(name, created, size);
            })
            .OrderBy(s => s.CreatedAt)
            .ToList();
        return Task.FromResult(list);
    }

    /// <summary>Removes a folder tree, refusing when anything is still mounted under it.</summary>
    private async Task DeleteTreeAsync(string path, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        if (MountTable.MountsUnder(path).Count > 0)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"refusing to delete {path}: something is still mounted under it");
        }

        // rm --one-file-system never crosses into a mount that appeared meanwhile.
        (await runner.RunAsync("rm", ["-rf", "--one-file-system", "--", path], new ProcessRunOptions(TimeSpan.FromMinutes(10)), cancellationToken)).ThrowIfFailed();
    }
}
