using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Panel.Hypervisor.Concurrency;
using Panel.Hypervisor.Consoles;
using Panel.Hypervisor.Guest;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Images;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Drivers.Uml;

/// <summary>
/// Para-virtual VPSes on User-Mode Linux: each guest is a Linux kernel (<c>/usr/bin/linux</c>)
/// running as host processes under its own unprivileged host user, inside its own cgroup from the
/// first instruction (started through <c>cgexec</c> and <c>setpriv</c>, daemonized with
/// <c>setsid -f</c>, so it outlives the engine). Disk: a copy-on-write file over a shared base of
/// exactly the plan's size; network: a TAP device on the node bridge with the same anti-spoofing
/// rules and shaping as containers; console and exec: two console lines on host pseudo-terminals
/// only root can open; graceful stop and freeze through the management console and the freezer.
/// The engine remembers nothing: it finds each guest again from its pid file, checked against
/// <c>/proc</c>.
/// </summary>
public sealed class UmlDriver : IInstanceDriver
{
    /// <summary>The UML kernel Debian's <c>user-mode-linux</c> package installs.</summary>
    public const string Kernel = "/usr/bin/linux";

    private const uint FirstUid = 0x4000_0000;
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    // A kernel-based guest's boot (a Debian guest: about 25 s on an idle two-core node) runs much
    // longer on a busy node; the wait ends as soon as the guest is up, this only bounds a failure.
    private static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(15);
    private static readonly string[] Tools = ["cgexec", "setpriv", "setsid", "uml_mkcow", "uml_moo"];
    private static readonly string[] ToolDirs = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"];

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
    private readonly UmlDiskStore disks;
    private readonly HostFacts host;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> execGates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> rulesApplied = new(StringComparer.Ordinal);
    private volatile bool tableEnsured;

    /// <summary>Creates the driver for one node's engine options.</summary>
    public UmlDriver(EngineOptions options, IProcessRunner? runner = null, InstanceLocks? locks = null)
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
        disks = new UmlDiskStore(Path.Combine(options.StateDirectory, "uml-bases"), this.runner);
        host = HostProbe.Read();
    }

    /// <inheritdoc />
    public string Name => "uml";

    /// <inheritdoc />
    public VirtualizationKind Kind => VirtualizationKind.ParaVirtual;

    /// <summary>The node's guest network.</summary>
    public GuestNetwork Network => network;

    private string InstancesDirectory => Path.Combine(options.StateDirectory, "uml");

    /// <inheritdoc />
    public async Task<DriverInfo> ProbeAsync(ProbeOptions probe, CancellationToken cancellationToken = default)
    {
        var features = new List<string> { "cgroup:" + host.CgroupMode.ToString().ToLowerInvariant() };
        if (!File.Exists(Kernel))
        {
            return new DriverInfo(Name, Kind, null, features, false, $"no UML kernel at {Kernel} (Debian package user-mode-linux)");
        }

        string? version = null;
        try
        {
            var v = await runner.RunAsync(Kernel, ["--version"], new ProcessRunOptions(TimeSpan.FromSeconds(10)), cancellationToken);
            version = v.Succeeded ? v.StdOut.Trim() : null;
        }
        catch (EngineException)
        {
        }

        string? missing = null;
        foreach (var tool in Tools)
        {
            if (!ToolDirs.Any(d => File.Exists(Path.Combine(d, tool))))
            {
                missing = tool;
            }
        }

        string? reason = Environment.UserName != "root" ? "the engine must run as root to start UML guests (TAP devices, cgroups, host users)"
            : !File.Exists("/dev/net/tun") ? "no /dev/net/tun: TAP devices cannot be made"
            : host.CgroupMode == CgroupMode.None ? "no cgroup filesystem is mounted"
            : missing is not null ? $"{missing} is missing (Debian packages cgroup-tools, util-linux, uml-utilities)"
            : options.StateDirectory.IndexOfAny([',', ':']) >= 0 ? "the state folder's path holds ',' or ':', which UML's disk option cannot carry"
            : null;
        features.Add("cow-disk-quota");
        features.Add("nftables-antispoof");
        features.Add("unprivileged-host-user");
        return new DriverInfo(Name, Kind, version, features, reason is null, reason);
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
        Directory.CreateDirectory(InstancesDirectory);
        Directory.CreateDirectory(dir);
        revert.Add("instance folder", () => DeleteTreeAsync(dir, CancellationToken.None));
        var uid = AllocateUid(spec.Id);
        File.WriteAllText(Path.Combine(dir, "uid"), uid.ToString(CultureInfo.InvariantCulture));
        // The guest's host user may pass through the folder and open its own files; nothing else.
        await ChownAsync(dir, 0, uid, cancellationToken);
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute);
        Directory.CreateDirectory(Path.Combine(dir, "hostfs")); // hostfs is confined to this empty, root-owned folder
        File.SetUnixFileMode(Path.Combine(dir, "hostfs"), UnixFileMode.UserRead | UnixFileMode.UserExecute);

        var basePath = await disks.BaseAsync(image, spec.Limits.DiskBytes, cancellationToken);
        var state = new UmlDiskState(spec.Limits.DiskBytes, basePath);
        state.Write(dir);
        revert.Add("unused base", () => disks.CollectAsync(ExistingDirs(except: spec.Id), CancellationToken.None));
        await disks.CreateCowAsync(state.DiskFile(dir), basePath, uid, cancellationToken);

        await WriteConfigDiskAsync(dir, spec, spec.Access, uid, cancellationToken);
        WriteSpec(dir, spec);
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
        // A new kernel process: limits changed since the last start (memory, disk) take effect.
        await StopLockedAsync(restart.Id, restart.GracePeriod ?? DefaultGrace, cancellationToken);
        await StartLockedAsync(restart.Id, DefaultStartTimeout, cancellationToken);
    }

    /// <inheritdoc />
    public async Task FreezeAsync(FreezeOptions freeze, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(freeze);
        using var held = await locks.AcquireAsync(freeze.Id, cancellationToken);
        await RequireStatusAsync(freeze.Id, InstanceStatus.Running, "freeze");
        await new UmlCgroup(freeze.Id, host.CgroupMode).FreezeAsync(true, cancellationToken);
    }

    /// <inheritdoc />
    public async Task UnfreezeAsync(FreezeOptions freeze, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(freeze);
        using var held = await locks.AcquireAsync(freeze.Id, cancellationToken);
        await RequireStatusAsync(freeze.Id, InstanceStatus.Frozen, "unfreeze");
        await new UmlCgroup(freeze.Id, host.CgroupMode).FreezeAsync(false, cancellationToken);
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

        var status = Observe(delete.Id).Status;
        if (status is InstanceStatus.Running or InstanceStatus.Frozen && !delete.Force)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"'{delete.Id}' is {status.ToString().ToLowerInvariant()}; stop it first or delete with force");
        }

        await StopLockedAsync(delete.Id, TimeSpan.Zero, cancellationToken);
        await antiSpoof.RemoveAsync(PortName.For(delete.Id), cancellationToken);
        rulesApplied.TryRemove(delete.Id, out _);
        await DeleteTreeAsync(dir, cancellationToken);
        await disks.CollectAsync(ExistingDirs(), cancellationToken);
    }

    /// <inheritdoc />
    public async Task UpdateLimitsAsync(UpdateLimitsOptions update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        SpecValidator.ValidateLimits(update.Limits);
        using var held = await locks.AcquireAsync(update.Id, cancellationToken);
        var dir = RequireDir(update.Id);
        var spec = ReadSpec(dir);
        var disk = UmlDiskState.Read(dir);
        var current = disk.PendingSize ?? disk.Size;
        if (update.Limits.DiskBytes < current)
        {
            throw EngineException.Invalid("Limits.DiskBytes", FormattableString.Invariant($"a disk can only grow (it has {current} bytes)"));
        }

        var status = Observe(update.Id).Status;
        if (update.Limits.DiskBytes > disk.Size)
        {
            if (status == InstanceStatus.Stopped)
            {
                await disks.GrowAsync(dir, disk, update.Limits.DiskBytes, ReadUid(dir), cancellationToken);
            }
            else
            {
                (disk with { PendingSize = update.Limits.DiskBytes }).Write(dir); // grown offline at the next start
            }
        }

        WriteSpec(dir, spec with { Limits = update.Limits });
        if (status is InstanceStatus.Running or InstanceStatus.Frozen)
        {
            // CPU, processes and speed change live; the guest's RAM (mem=) at the next start.
            var limits = update.Limits with { MemoryBytes = Math.Max(update.Limits.MemoryBytes, spec.Limits.MemoryBytes) };
            new UmlCgroup(update.Id, host.CgroupMode).Apply(limits);
            await shaper.ApplyAsync(PortName.For(update.Id), update.Limits.PortSpeedMbit, false, cancellationToken);
            await antiSpoof.ApplyAsync(PortName.For(update.Id), spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, update.Limits.PortSpeedMbit, cancellationToken);
        }
    }

    /// <inheritdoc />
    public Task<InstanceState> GetStateAsync(StateOptions state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        SpecValidator.ValidateId(state.Id);
        var dir = InstanceDir(state.Id);
        if (!File.Exists(Path.Combine(dir, "spec.json")))
        {
            return Task.FromResult(new InstanceState(state.Id, InstanceStatus.Missing, null, null));
        }

        var (status, pid) = Observe(state.Id);
        InstanceMetrics? metrics = null;
        if (state.WithMetrics && pid is { } p && status is InstanceStatus.Running or InstanceStatus.Frozen)
        {
            var spec = ReadSpec(dir);
            var disk = UmlDiskState.Read(dir);
            var (cpu, memory, processes) = new UmlCgroup(state.Id, host.CgroupMode).Usage(p);
            var (rx, tx) = PortCounters.Read(PortName.For(state.Id));
            metrics = new InstanceMetrics(cpu, memory, spec.Limits.MemoryBytes, processes,
                Native.LStat(disk.DiskFile(dir))?.AllocatedBytes ?? 0, disk.Size, rx, tx);
        }

        return Task.FromResult(new InstanceState(state.Id, status, pid, metrics));
    }

    /// <inheritdoc />
    public async Task<ExecResult> ExecAsync(ExecOptions exec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exec);
        if (exec.Command.Count == 0)
        {
            throw EngineException.Invalid("Command", "give a program to run");
        }

        var dir = RequireDir(exec.Id);
        var status = Observe(exec.Id).Status;
        if (status != InstanceStatus.Running)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"'{exec.Id}' is {status.ToString().ToLowerInvariant()}; exec needs it running");
        }

        // One command at a time on the line (the guest's agent serves requests in turn).
        var gate = execGates.GetOrAdd(exec.Id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var pts = await LineAsync(exec.Id, dir, "con1", TimeSpan.FromSeconds(30), cancellationToken);
            return await ExecChannel.RunAsync(pts, ReadUid(dir), exec.Command, exec.Timeout ?? TimeSpan.FromSeconds(60), exec.StdIn, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IConsoleSession> OpenConsoleAsync(ConsoleOptions console, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        var dir = RequireDir(console.Id);
        var status = Observe(console.Id).Status;
        if (status != InstanceStatus.Running)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"'{console.Id}' is {status.ToString().ToLowerInvariant()}; its console needs it running");
        }

        var pts = await LineAsync(console.Id, dir, "con0", TimeSpan.FromSeconds(10), cancellationToken);
        return new PtsConsole(PtsChannel.Open(pts, ReadUid(dir)), console.Columns, console.Rows);
    }

    /// <inheritdoc />
    public async Task ResetAccessAsync(ResetAccessOptions reset, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reset);
        SpecValidator.ValidateAccess(reset.Access);
        using var held = await locks.AcquireAsync(reset.Id, cancellationToken);
        var dir = RequireDir(reset.Id);
        var spec = ReadSpec(dir);
        // The config disk is applied by the guest at boot: a running guest is restarted to take it.
        var wasRunning = Observe(reset.Id).Status != InstanceStatus.Stopped;
        if (wasRunning)
        {
            await StopLockedAsync(reset.Id, DefaultGrace, cancellationToken);
        }

        await WriteConfigDiskAsync(dir, spec, reset.Access, ReadUid(dir), cancellationToken);
        WriteSpec(dir, spec with { Access = reset.Access });
        if (wasRunning)
        {
            await StartLockedAsync(reset.Id, DefaultStartTimeout, cancellationToken);
        }
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
            throw new EngineException(EngineErrorCode.AlreadyExists, $"'{snapshot.Id}' already has a snapshot '{snapshot.Name}'", "Snapshot");
        }

        var partial = target + ".partial";
        await DeleteTreeAsync(partial, cancellationToken);
        Directory.CreateDirectory(partial);
        var status = Observe(snapshot.Id).Status;
        var cgroup = new UmlCgroup(snapshot.Id, host.CgroupMode);
        try
        {
            if (status == InstanceStatus.Running)
            {
                // Flush the guest's page cache, then hold every guest task still while its disk is copied.
                await TryExecAsync(snapshot.Id, ["sync"], cancellationToken);
                await cgroup.FreezeAsync(true, cancellationToken);
            }

            try
            {
                var disk = UmlDiskState.Read(dir);
                (await runner.RunAsync("cp", ["--sparse=always", "--", disk.DiskFile(dir), Path.Combine(partial, Path.GetFileName(disk.DiskFile(dir)))],
                    new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
                (disk with { PendingSize = null }).Write(partial);
                File.WriteAllText(Path.Combine(partial, "created"), DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            }
            finally
            {
                if (status == InstanceStatus.Running)
                {
                    await cgroup.FreezeAsync(false, CancellationToken.None);
                }
            }

            Directory.Move(partial, target);
        }
        catch
        {
            await DeleteTreeAsync(partial, CancellationToken.None);
            throw;
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
        if (!File.Exists(Path.Combine(source, UmlDiskState.FileName)))
        {
            throw new EngineException(EngineErrorCode.NotFound, $"'{snapshot.Id}' has no snapshot '{snapshot.Name}'", "Snapshot");
        }

        var wasRunning = Observe(snapshot.Id).Status != InstanceStatus.Stopped;
        if (wasRunning)
        {
            // The disk is replaced: nothing the guest would write while shutting down is kept anyway.
            await StopLockedAsync(snapshot.Id, TimeSpan.Zero, cancellationToken);
        }

        var saved = UmlDiskState.Read(source);
        var current = UmlDiskState.Read(dir);
        var file = saved.DiskFile(dir);
        (await runner.RunAsync("cp", ["--sparse=always", "--", Path.Combine(source, Path.GetFileName(file)), file + ".restore"],
            new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
        var uid = ReadUid(dir).ToString(CultureInfo.InvariantCulture);
        (await runner.RunAsync("chown", [$"{uid}:{uid}", file + ".restore"], null, cancellationToken)).ThrowIfFailed();
        File.Move(file + ".restore", file, overwrite: true);
        if (current.DiskFile(dir) != file)
        {
            File.Delete(current.DiskFile(dir));
        }

        // A growth done after the snapshot is done again at the next start: the plan's disk stays.
        (saved with { PendingSize = current.Size > saved.Size ? current.Size : null }).Write(dir);
        if (wasRunning)
        {
            await StartLockedAsync(snapshot.Id, DefaultStartTimeout, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task DeleteSnapshotAsync(SnapshotOptions snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        SpecValidator.ValidateSnapshotName(snapshot.Name);
        using var held = await locks.AcquireAsync(snapshot.Id, cancellationToken);
        var dir = RequireDir(snapshot.Id);
        await DeleteTreeAsync(Path.Combine(dir, "snapshots", snapshot.Name), cancellationToken);
        await disks.CollectAsync(ExistingDirs(), cancellationToken);
    }

    /// <summary>
    /// The root disk as one private, sparse <c>disk.img</c> (the COW file merged with its base), so it
    /// restores on a node without the same base - or without the image. A running guest is synced
    /// through the exec line and its cgroup frozen while its COW file is copied (a second or less);
    /// the merge then runs on the copy. The config disk is not exported: it is made from the spec.
    /// </summary>
    public async Task<DiskExport> ExportDisksAsync(ExportDisksOptions export, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(export);
        string copy;
        UmlDiskState disk;
        InstanceSpec spec;
        string consistency;
        using (await locks.AcquireAsync(export.Id, cancellationToken))
        {
            var dir = RequireDir(export.Id);
            spec = ReadSpec(dir);
            disk = UmlDiskState.Read(dir);
            copy = Path.Combine(export.Folder, "disk.copy");
            var status = Observe(export.Id).Status;
            var cgroup = new UmlCgroup(export.Id, host.CgroupMode);
            if (status == InstanceStatus.Running)
            {
                await TryExecAsync(export.Id, ["sync"], cancellationToken);
                await cgroup.FreezeAsync(true, cancellationToken);
            }

            try
            {
                (await runner.RunAsync("cp", ["--sparse=always", "--", disk.DiskFile(dir), copy], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
            }
            finally
            {
                if (status == InstanceStatus.Running)
                {
                    await cgroup.FreezeAsync(false, CancellationToken.None);
                }
            }

            consistency = status switch
            {
                InstanceStatus.Running => "frozen: guest synced, then its cgroup frozen while the disk was copied",
                InstanceStatus.Frozen => "frozen: the guest was frozen already (not synced)",
                _ => "stopped",
            };

            // The base stays while the lock is held (a delete could otherwise collect it before the merge).
            await disks.FlattenAsync(copy, disk.Base, Path.Combine(export.Folder, "disk.img"), cancellationToken);
        }

        File.Delete(copy);
        var sha = TryImageSha(spec.Image);
        return new DiskExport(spec, sha, ["disk.img"], consistency);
    }

    /// <summary>
    /// Takes a <c>disk.img</c> made by <see cref="ExportDisksAsync"/> as the guest's private root disk (grown to the plan
    /// at the next start when the plan is larger). A new instance gets a new host user and a config disk from its spec;
    /// it needs no image on this node (the disk holds the whole system).
    /// </summary>
    public async Task ImportDisksAsync(ImportDisksOptions import, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(import);
        if (!import.Files.SequenceEqual(["disk.img"]))
        {
            throw new EngineException(EngineErrorCode.CorruptBackup, $"a UML backup holds disk.img, not {string.Join(", ", import.Files)}", "Archive");
        }

        var staged = Path.Combine(import.Folder, "disk.img");
        var size = new FileInfo(staged).Length;
        using var held = await locks.AcquireAsync(import.Spec.Id, cancellationToken);
        if (import.Replace)
        {
            var dir = RequireDir(import.Spec.Id);
            var spec = ReadSpec(dir);
            var current = UmlDiskState.Read(dir);
            var plan = Math.Max(current.PendingSize ?? current.Size, spec.Limits.DiskBytes);
            if (size > plan)
            {
                throw EngineException.Invalid("Limits.DiskBytes", FormattableString.Invariant($"the backup's disk ({size} bytes) is larger than the instance's ({plan} bytes)"));
            }

            var wasRunning = Observe(import.Spec.Id).Status != InstanceStatus.Stopped;
            if (wasRunning)
            {
                await StopLockedAsync(import.Spec.Id, TimeSpan.Zero, cancellationToken); // its disk is replaced: nothing it writes now is kept
            }

            await PlaceDiskAsync(dir, staged, size, plan, ReadUid(dir), cancellationToken);
            if (current.Base is not null)
            {
                File.Delete(current.DiskFile(dir));
            }

            await disks.CollectAsync(ExistingDirs(), cancellationToken);
            if (wasRunning || import.Start)
            {
                await StartLockedAsync(import.Spec.Id, DefaultStartTimeout, cancellationToken);
            }

            return;
        }

        var newSpec = import.Spec;
        SpecValidator.Validate(newSpec, network);
        if (newSpec.Limits.DiskBytes < size)
        {
            throw EngineException.Invalid("Limits.DiskBytes", FormattableString.Invariant($"the backup's disk has {size} bytes; the plan's disk cannot be smaller"));
        }

        await CreateFromDiskLockedAsync(newSpec, import.KeepGuestAccess, async (dir, uid) =>
        {
            await PlaceDiskAsync(dir, staged, size, newSpec.Limits.DiskBytes, uid, cancellationToken);
            return null;
        }, cancellationToken);
        if (import.Start)
        {
            await StartLockedAsync(newSpec.Id, DefaultStartTimeout, cancellationToken);
        }
    }

    /// <summary>
    /// A new, stopped guest whose disk is a COW file over the snapshot, flattened once into a read-only
    /// shared base (<c>uml-bases/clone-….ext4</c>) that every clone of that snapshot uses: creating a
    /// clone copies nothing, its writes go to its own COW file, and the source is never touched.
    /// The clone's disk is the snapshot's size; a larger plan is grown at its first start (the disk then becomes private).
    /// </summary>
    public async Task CloneAsync(CloneOptions clone, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clone);
        SpecValidator.ValidateSnapshotName(clone.Snapshot);
        if (clone.Spec.Id == clone.SourceId)
        {
            throw EngineException.Invalid("Id", "a clone needs an id of its own");
        }

        string basePath;
        long size;
        InstanceSpec spec;
        using (await locks.AcquireAsync(clone.SourceId, cancellationToken))
        {
            var sourceDir = RequireDir(clone.SourceId);
            var snapshotDir = Path.Combine(sourceDir, "snapshots", clone.Snapshot);
            if (!File.Exists(Path.Combine(snapshotDir, "created")))
            {
                throw new EngineException(EngineErrorCode.NotFound, $"'{clone.SourceId}' has no snapshot '{clone.Snapshot}'", "Snapshot");
            }

            spec = clone.Spec with { Image = ReadSpec(sourceDir).Image };
            SpecValidator.Validate(spec, network);
            var saved = UmlDiskState.Read(snapshotDir);
            size = saved.Size;
            if (spec.Limits.DiskBytes < size)
            {
                throw EngineException.Invalid("Limits.DiskBytes", FormattableString.Invariant($"the snapshot's disk has {size} bytes; the clone's cannot be smaller"));
            }

            var created = DateTime.Parse(File.ReadAllText(Path.Combine(snapshotDir, "created")), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            basePath = await disks.SnapshotBaseAsync(snapshotDir, saved, string.Create(CultureInfo.InvariantCulture, $"{clone.SourceId}-{clone.Snapshot}-{created.Ticks}"), cancellationToken);
        }

        using var held = await locks.AcquireAsync(spec.Id, cancellationToken);
        await CreateFromDiskLockedAsync(spec, keepAccess: false, async (dir, uid) =>
        {
            var state = new UmlDiskState(size, basePath, spec.Limits.DiskBytes > size ? spec.Limits.DiskBytes : null);
            state.Write(dir);
            await disks.CreateCowAsync(state.DiskFile(dir), basePath, uid, cancellationToken);
            return state;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListAsync(ListOptions list, CancellationToken cancellationToken = default)
        => Task.FromResult<IReadOnlyList<string>>(ExistingDirs().Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList());

    /// <inheritdoc />
    public async Task<IReadOnlyList<InstanceState>> RecoverAsync(RecoverOptions recover, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recover);
        var states = new List<InstanceState>();
        foreach (var id in await ListAsync(new ListOptions(), cancellationToken))
        {
            using (await locks.AcquireAsync(id, cancellationToken))
            {
                var dir = InstanceDir(id);
                var status = Observe(id).Status;
                if (status is InstanceStatus.Running or InstanceStatus.Frozen)
                {
                    // Re-assert what a crash between steps (or a new engine process) may have lost.
                    var spec = ReadSpec(dir);
                    await EnsureTableAsync(cancellationToken);
                    await antiSpoof.ApplyAsync(PortName.For(id), spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, spec.Limits.PortSpeedMbit, cancellationToken);
                    rulesApplied[id] = true;
                    await shaper.ApplyAsync(PortName.For(id), spec.Limits.PortSpeedMbit, false, cancellationToken);
                }
                else
                {
                    await CleanUpStoppedAsync(id, cancellationToken); // a guest that died while no engine ran
                    if (recover.StartStopped)
                    {
                        await StartLockedAsync(id, DefaultStartTimeout, cancellationToken);
                    }
                }
            }

            states.Add(await GetStateAsync(new StateOptions(id), cancellationToken));
        }

        return states;
    }

    // ------------------------------------------------------------------ internals

    /// <summary>
    /// Creates an instance folder like <see cref="CreateAsync"/> but with a disk from elsewhere (a backup, a snapshot):
    /// <paramref name="placeDisk"/> puts it in place and writes its disk state. Nothing is left on failure. Caller holds the lock.
    /// </summary>
    private async Task CreateFromDiskLockedAsync(InstanceSpec spec, bool keepAccess, Func<string, uint, Task<UmlDiskState?>> placeDisk, CancellationToken cancellationToken)
    {
        var dir = InstanceDir(spec.Id);
        if (Directory.Exists(dir))
        {
            throw new EngineException(EngineErrorCode.AlreadyExists, $"an instance '{spec.Id}' already exists on this node", "Id");
        }

        await using var revert = new Reverter();
        Directory.CreateDirectory(InstancesDirectory);
        Directory.CreateDirectory(dir);
        revert.Add("instance folder", () => DeleteTreeAsync(dir, CancellationToken.None));
        revert.Add("unused base", () => disks.CollectAsync(ExistingDirs(except: spec.Id), CancellationToken.None));
        var uid = AllocateUid(spec.Id);
        File.WriteAllText(Path.Combine(dir, "uid"), uid.ToString(CultureInfo.InvariantCulture));
        await ChownAsync(dir, 0, uid, cancellationToken);
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute);
        Directory.CreateDirectory(Path.Combine(dir, "hostfs"));
        File.SetUnixFileMode(Path.Combine(dir, "hostfs"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
        await placeDisk(dir, uid);
        await WriteConfigDiskAsync(dir, spec, spec.Access, uid, cancellationToken, keepAccess);
        WriteSpec(dir, spec);
        revert.Success();
    }

    /// <summary>Moves a flattened disk into the instance folder as its private <c>disk.img</c>, owned by the guest's user.</summary>
    private async Task PlaceDiskAsync(string dir, string staged, long size, long plan, uint uid, CancellationToken cancellationToken)
    {
        var target = Path.Combine(dir, "disk.img");
        File.Move(staged, target + ".restore", overwrite: true);
        await disks.OwnDiskAsync(target + ".restore", uid, cancellationToken);
        File.Move(target + ".restore", target, overwrite: true);
        new UmlDiskState(size, null, plan > size ? plan : null).Write(dir);
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
        var dir = RequireDir(id);
        var status = Observe(id).Status;
        var cgroup = new UmlCgroup(id, host.CgroupMode);
        if (status == InstanceStatus.Running)
        {
            return;
        }

        if (status == InstanceStatus.Frozen)
        {
            await cgroup.FreezeAsync(false, cancellationToken);
            return;
        }

        var spec = ReadSpec(dir);
        var uid = ReadUid(dir);
        await CleanUpStoppedAsync(id, cancellationToken); // leftovers of a guest that crashed
        var disk = UmlDiskState.Read(dir);
        if (disk.PendingSize is { } grow && grow > disk.Size)
        {
            disk = await disks.GrowAsync(dir, disk, grow, uid, cancellationToken);
        }

        await bridge.EnsureAsync(cancellationToken);
        await using var revert = new Reverter();

        // The cgroup exists with its limits before the first instruction of the guest runs in it.
        cgroup.Create(spec.Limits);
        revert.Add("cgroup", () => cgroup.RemoveAsync(CancellationToken.None));

        var port = PortName.For(id);
        var uidText = uid.ToString(CultureInfo.InvariantCulture);
        revert.Add("tap", async () => await runner.RunAsync("ip", ["link", "del", port], null, CancellationToken.None));
        (await runner.RunAsync("ip", ["tuntap", "add", "dev", port, "mode", "tap", "user", uidText, "group", uidText], null, cancellationToken)).ThrowIfFailed();
        (await runner.RunAsync("ip", ["link", "set", port, "master", bridge.Name, "up"], null, cancellationToken)).ThrowIfFailed();

        // The table drops everything from a guest port without its own chain: committing the
        // port's rules may run beside the boot.
        Task? rules = null;
        if (!rulesApplied.ContainsKey(id))
        {
            await EnsureTableAsync(cancellationToken);
            revert.Add("anti-spoof rules", () =>
            {
                rulesApplied.TryRemove(id, out _);
                return antiSpoof.RemoveAsync(port, CancellationToken.None);
            });
            rules = antiSpoof.ApplyAsync(port, spec.Network.MacAddress.ToLowerInvariant(), spec.Network.IPv4, spec.Network.IPv6, spec.Limits.PortSpeedMbit, cancellationToken);
        }

        var run = Path.Combine(dir, "run");
        Directory.CreateDirectory(run);
        await ChownAsync(run, uid, uid, cancellationToken);
        File.SetUnixFileMode(run, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        revert.Add("guest", () => KillAsync(id, CancellationToken.None));
        try
        {
            var log = Path.Combine(dir, "uml.log");
            var rc = await Native.RunDetachedStarterAsync("setsid", [.. StarterArguments(cgroup, uid), Kernel, .. KernelArguments(id, dir, spec, disk)], log,
                new Dictionary<string, string> { ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin", ["LANG"] = "C" }, TimeSpan.FromSeconds(10));
            if (rc != 0)
            {
                throw new EngineException(EngineErrorCode.HostFailure, $"starting the UML kernel for '{id}' failed (exit {rc}): {Tail(log)}");
            }

            // Ready: the kernel answers on its management console and the guest's init has opened
            // the exec line (its userspace is up).
            await LineAsync(id, dir, "con1", timeout, cancellationToken);
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

        await shaper.ApplyAsync(port, spec.Limits.PortSpeedMbit, freshPort: true, cancellationToken);
        revert.Success();
    }

    private static string[] StarterArguments(UmlCgroup cgroup, uint uid)
    {
        var u = uid.ToString(CultureInfo.InvariantCulture);
        return
        [
            // setsid -f: a new session, and the starter exits at once so the guest is not our child.
            "-f",
            // cgexec: into the guest's cgroup before the kernel's first instruction.
            "cgexec", "-g", cgroup.CgexecSpec,
            // setpriv: the guest's own unprivileged host user, no capabilities, no way back.
            "setpriv", $"--reuid={u}", $"--regid={u}", "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all",
        ];
    }

    private static List<string> KernelArguments(string id, string dir, InstanceSpec spec, UmlDiskState disk)
    {
        var memKb = (spec.Limits.MemoryBytes / 1024).ToString(CultureInfo.InvariantCulture);
        return
        [
            $"umid={id}",
            $"uml_dir={Path.Combine(dir, "run")}",
            $"mem={memKb}K",
            $"ubd0={disk.UbdArgument(dir)}",
            $"ubd1r={Path.Combine(dir, "config.ext4")}",
            "root=/dev/ubda",
            "rw",
            "con=null",
            "ssl=null",
            "con0=pts",
            "con1=pts",
            $"eth0=tuntap,{PortName.For(id)},{spec.Network.MacAddress.ToLowerInvariant()}",
            $"hostfs={Path.Combine(dir, "hostfs")}",
            "vpspanel.exec=tty1",
        ];
    }

    private async Task StopLockedAsync(string id, TimeSpan grace, CancellationToken cancellationToken)
    {
        var dir = RequireDir(id);
        var (status, pid) = Observe(id);
        if (status != InstanceStatus.Stopped && pid is { } p)
        {
            var cgroup = new UmlCgroup(id, host.CgroupMode);
            if (status == InstanceStatus.Frozen)
            {
                await cgroup.FreezeAsync(false, cancellationToken);
            }

            var stopped = false;
            if (grace > TimeSpan.Zero && MconsoleOf(id, dir) is { } mc)
            {
                // Ctrl-Alt-Del: the guest's init runs its shutdown and powers off (our images map it to poweroff).
                try
                {
                    await mc.TrySendAsync("cad", TimeSpan.FromSeconds(3), cancellationToken);
                    stopped = await WaitForExitAsync(cgroup, grace, cancellationToken);
                }
                catch (EngineException)
                {
                    // no answer: killed below
                }
            }

            if (!stopped)
            {
                await KillAsync(id, cancellationToken);
            }
        }

        await CleanUpStoppedAsync(id, cancellationToken);
    }

    /// <summary>Kills every host task of the guest (its cgroup, not a pid the guest could have rewritten).</summary>
    private async Task KillAsync(string id, CancellationToken cancellationToken)
    {
        var cgroup = new UmlCgroup(id, host.CgroupMode);
        for (var round = 0; round < 100; round++)
        {
            var tasks = cgroup.Tasks();
            if (tasks.Count == 0)
            {
                return;
            }

            if (cgroup.IsFrozen)
            {
                await cgroup.FreezeAsync(false, cancellationToken);
            }

            foreach (var task in tasks)
            {
                Native.Kill(task, 9);
            }

            await Task.Delay(20, cancellationToken);
        }

        throw new EngineException(EngineErrorCode.HostFailure, $"the tasks of '{id}' did not die");
    }

    /// <summary>Removes what only a running guest needs: its TAP device, cgroup and run folder.</summary>
    private async Task CleanUpStoppedAsync(string id, CancellationToken cancellationToken)
    {
        var port = PortName.For(id);
        if (Directory.Exists($"/sys/class/net/{port}"))
        {
            await runner.RunAsync("ip", ["link", "del", port], null, cancellationToken);
        }

        var cgroup = new UmlCgroup(id, host.CgroupMode);
        if (cgroup.Exists)
        {
            await KillAsync(id, cancellationToken);
            await cgroup.RemoveAsync(cancellationToken);
        }

        var run = Path.Combine(InstanceDir(id), "run");
        if (Directory.Exists(run))
        {
            Directory.Delete(run, recursive: true);
        }
    }

    /// <summary>Waits until the guest's last task has exited (an exited task leaves its cgroup at once; its zombie may wait for PID 1).</summary>
    private static async Task<bool> WaitForExitAsync(UmlCgroup cgroup, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + wait;
        while (cgroup.Tasks().Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50, cancellationToken);
        }

        return true;
    }

    /// <summary>The host pts of a console line (<c>con0</c>, <c>con1</c>), waiting until the guest has opened it.</summary>
    private async Task<string> LineAsync(string id, string dir, string line, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        var deadline = started + timeout;
        var uid = ReadUid(dir);
        string last = "no management console yet";
        while (true)
        {
            // Gone: no pid and no task left in its cgroup (past the first moments, when the starter is still moving in).
            if (Observe(id).Status == InstanceStatus.Stopped && new UmlCgroup(id, host.CgroupMode).Tasks().Count == 0
                && DateTime.UtcNow - started > TimeSpan.FromSeconds(2))
            {
                throw new EngineException(EngineErrorCode.HostFailure, $"the UML guest '{id}' stopped during boot: {Tail(Path.Combine(dir, "uml.log"))}");
            }

            if (MconsoleOf(id, dir) is { } mc)
            {
                try
                {
                    var (ok, text) = await mc.TrySendAsync("config " + line, TimeSpan.FromSeconds(2), cancellationToken);
                    last = text;
                    // "pts:/dev/pts/N" once the guest opened the line ("pts" before).
                    if (ok && text.StartsWith("pts:/dev/pts/", StringComparison.Ordinal))
                    {
                        var pts = text[4..].Trim();
                        if (Native.LStat(pts) is { } st && st.Uid == uid)
                        {
                            File.SetUnixFileMode(pts, UnixFileMode.UserRead | UnixFileMode.UserWrite); // root and the guest kernel only
                        }

                        return pts;
                    }
                }
                catch (EngineException ex)
                {
                    last = ex.Message;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new EngineException(EngineErrorCode.Timeout, $"the UML guest '{id}' did not open its {line} line in time ({last})");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The guest's management console, when its socket is there and really the guest's own (not a link the guest planted).</summary>
    private static Mconsole? MconsoleOf(string id, string dir)
    {
        var path = Path.Combine(dir, "run", id, "mconsole");
        return Native.LStat(path) is { IsSocket: true } st && st.Uid == ReadUid(dir) ? new Mconsole(path) : null;
    }

    /// <summary>Observes the guest: the pid in UML's pid file, checked against /proc (a UML kernel of this instance, run by its host user, in its cgroup).</summary>
    private (InstanceStatus Status, int? Pid) Observe(string id)
    {
        var dir = InstanceDir(id);
        var pidFile = Path.Combine(dir, "run", id, "pid");
        int pid;
        try
        {
            if (!int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out pid) || pid <= 1)
            {
                return (InstanceStatus.Stopped, null);
            }
        }
        catch (IOException)
        {
            return (InstanceStatus.Stopped, null);
        }
        catch (UnauthorizedAccessException)
        {
            return (InstanceStatus.Stopped, null);
        }

        var cgroup = new UmlCgroup(id, host.CgroupMode);
        if (!IsOurKernel(pid, id, dir) || !cgroup.Tasks().Contains(pid))
        {
            return (InstanceStatus.Stopped, null);
        }

        return (cgroup.IsFrozen ? InstanceStatus.Frozen : InstanceStatus.Running, pid);
    }

    private static bool IsOurKernel(int pid, string id, string dir)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            var uidLine = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            return args.Length > 2 && args[0] == Kernel && args.Contains($"umid={id}") && args.Contains($"uml_dir={Path.Combine(dir, "run")}")
                   && uidLine is not null && uidLine.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1) == ReadUid(dir).ToString(CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private async Task TryExecAsync(string id, IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        try
        {
            var dir = InstanceDir(id);
            var pts = await LineAsync(id, dir, "con1", TimeSpan.FromSeconds(5), cancellationToken);
            var gate = execGates.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(cancellationToken);
            try
            {
                await ExecChannel.RunAsync(pts, ReadUid(dir), command, TimeSpan.FromSeconds(10), null, cancellationToken);
            }
            finally
            {
                gate.Release();
            }
        }
        catch (EngineException)
        {
            // best effort: the snapshot is then crash-consistent
        }
    }

    private async Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        if (!tableEnsured)
        {
            await antiSpoof.EnsureTableAsync(cancellationToken);
            tableEnsured = true;
        }
    }

    private async Task WriteConfigDiskAsync(string dir, InstanceSpec spec, GuestAccess guestAccess, uint uid, CancellationToken cancellationToken, bool keepAccess = false)
    {
        var path = Path.Combine(dir, "config.ext4");
        var config = await GuestConfig.ForAsync(spec, guestAccess, network, access, cancellationToken) with { KeepGuestAccess = keepAccess };
        await configDisk.WriteAsync(path, config, cancellationToken);
        // Readable by the guest's kernel (it holds the root password hash: nobody else).
        await ChownAsync(path, 0, uid, cancellationToken);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
    }

    /// <summary>
    /// The guest's own host user: a high uid derived from the node's state folder and the id (no
    /// passwd entry needed), moved on while another instance or process already has it.
    /// </summary>
    private uint AllocateUid(string id)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(options.StateDirectory + "\n" + id));
        var uid = FirstUid + (BitConverter.ToUInt32(hash, 0) & 0x0FFF_FFFF);
        var taken = ExistingDirs(except: id)
            .Select(d => File.Exists(Path.Combine(d, "uid")) ? File.ReadAllText(Path.Combine(d, "uid")).Trim() : "")
            .ToHashSet(StringComparer.Ordinal);
        while (taken.Contains(uid.ToString(CultureInfo.InvariantCulture)) || ProcessesOf(uid))
        {
            uid = FirstUid + ((uid - FirstUid + 1) & 0x0FFF_FFFF);
        }

        return uid;
    }

    private static bool ProcessesOf(uint uid)
    {
        var text = uid.ToString(CultureInfo.InvariantCulture);
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!char.IsDigit(Path.GetFileName(proc)[0]))
            {
                continue;
            }

            try
            {
                var line = File.ReadLines(Path.Combine(proc, "status")).FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
                if (line is not null && line.Split('\t', StringSplitOptions.RemoveEmptyEntries).Skip(1).Contains(text))
                {
                    return true;
                }
            }
            catch (IOException)
            {
            }
        }

        return false;
    }

    private static uint ReadUid(string dir)
        => uint.Parse(File.ReadAllText(Path.Combine(dir, "uid")).Trim(), CultureInfo.InvariantCulture);

    private async Task ChownAsync(string path, uint uid, uint gid, CancellationToken cancellationToken)
        => (await runner.RunAsync("chown", [string.Create(CultureInfo.InvariantCulture, $"{uid}:{gid}"), path], null, cancellationToken)).ThrowIfFailed();

    private async Task RequireStatusAsync(string id, InstanceStatus wanted, string verb)
    {
        RequireDir(id);
        var status = Observe(id).Status;
        if (status != wanted)
        {
            throw new EngineException(EngineErrorCode.InvalidState, $"cannot {verb} '{id}': it is {status.ToString().ToLowerInvariant()}");
        }

        await Task.CompletedTask;
    }

    private List<string> ExistingDirs(string? except = null)
        => Directory.Exists(InstancesDirectory)
            ? Directory.EnumerateDirectories(InstancesDirectory).Where(d => Path.GetFileName(d) != except && File.Exists(Path.Combine(d, "spec.json"))).ToList()
            : [];

    private string InstanceDir(string id)
    {
        SpecValidator.ValidateId(id);
        return Path.Combine(InstancesDirectory, id);
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

    private static string Tail(string log)
    {
        try
        {
            return string.Join(" | ", File.ReadLines(log).Where(l => l.Trim().Length > 0).TakeLast(4));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private static void WriteSpec(string dir, InstanceSpec spec)
    {
        // The password is never stored: only its hash lives, on the guest's config disk.
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
            .Where(d => !d.EndsWith(".partial", StringComparison.Ordinal) && File.Exists(Path.Combine(d, "created")))
            .Select(d => new SnapshotInfo(
                Path.GetFileName(d),
                DateTime.Parse(File.ReadAllText(Path.Combine(d, "created")), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                Directory.EnumerateFiles(d).Sum(f => Native.LStat(f)?.AllocatedBytes ?? 0)))
            .OrderBy(s => s.CreatedAt)
            .ToList();
        return Task.FromResult(list);
    }

    private async Task DeleteTreeAsync(string path, CancellationToken cancellationToken)
    {
        if (Directory.Exists(path))
        {
            (await runner.RunAsync("rm", ["-rf", "--one-file-system", "--", path], new ProcessRunOptions(TimeSpan.FromMinutes(10)), cancellationToken)).ThrowIfFailed();
        }
    }
}
