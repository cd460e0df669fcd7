using System.Globalization;
using Panel.Hypervisor;
using Panel.Hypervisor.Backups;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Drivers.Qemu;
using Panel.Hypervisor.Drivers.Uml;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Backups;

/// <summary>
/// Backups, restores and clones, the same checks for every driver: real guests, real archives,
/// a second private engine as "another node".
/// </summary>
public abstract class BackupContractTests(EngineFixture engine)
{
    /// <summary>The run's engine.</summary>
    protected EngineFixture Engine => engine;

    private const string OriginalKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBJpkIV5NVu3YUGgGhTR0MdhHN/AR6N/6szKaS6i6Tfu alice@laptop";
    private const string CopyKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bob@desk";

    /// <summary>The driver under test on the run's engine.</summary>
    protected abstract IInstanceDriver Driver { get; }

    /// <summary>Skips when the driver cannot run here.</summary>
    protected abstract void Require();

    /// <summary>The same driver on another engine (another node's state folder, bridge and table).</summary>
    protected abstract IInstanceDriver DriverOn(EngineOptions options);

    /// <summary>Backups over the run's engine with the driver under test.</summary>
    protected InstanceBackups Backups => new(engine.Options, new DriverRegistry([Driver]));

    /// <summary>Where the tests' archives go.</summary>
    protected string Folder => Path.Combine(engine.Options.StateDirectory, "test-backups");

    [Fact]
    public async Task Backup_ThenDelete_ThenRestore_BringsTheDataBack_AndTheGuestRuns()
    {
        Require();
        var spec = await RunningAsync(engine.NewSpec(hostname: "bk-src.example"));
        string? archive = null;
        try
        {
            var data = Guid.NewGuid().ToString("N");
            await ExecAsync(spec.Id, "sh", "-c", $"echo {data} > /root/data.txt");

            var backup = await Backups.BackupAsync(Driver, new BackupOptions(spec.Id, Folder));
            archive = backup.Archive;

            File.Exists(archive).ShouldBeTrue();
            (await File.ReadAllTextAsync(archive + ".sha256")).ShouldStartWith(await BackupArchive.Sha256Async(archive, CancellationToken.None));
            Directory.EnumerateFiles(Folder).Where(f => f.Contains(".partial", StringComparison.Ordinal)).ShouldBeEmpty();
            backup.Manifest.Driver.ShouldBe(Driver.Name);
            backup.Manifest.EngineId.ShouldBe(spec.Id);
            backup.Manifest.Consistency.ShouldStartWith("frozen");
            RunningBackupChecks(backup);
            backup.Manifest.Spec.Access.RootPassword.ShouldBeNull();
            backup.Manifest.Disks.ShouldHaveSingleItem().Sha256.Length.ShouldBe(64);
            backup.SizeBytes.ShouldBeLessThan(16L << 20, "empty blocks cost nothing in the archive");
            (await Driver.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Running, "a backup only pauses the guest");

            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
            (await Driver.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Missing);
            (await Backups.RestoreAsync(new RestoreOptions(archive))).ShouldBe(spec.Id);

            (await Driver.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Running);
            (await ExecAsync(spec.Id, "hostname")).ShouldBe("bk-src.example");
            (await ExecAsync(spec.Id, "cat", "/root/data.txt")).ShouldBe(data);
        }
        finally
        {
            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
            DeleteArchive(archive);
        }
    }

    [Fact]
    public async Task Restore_AsANewId_RunsBesideTheOriginal_AndOnAnotherNode()
    {
        Require();
        var spec = await RunningAsync(engine.NewSpec(hostname: "bk-orig", access: new GuestAccess(null, [OriginalKey])));
        var copy = engine.NewSpec(hostname: "bk-copy", access: new GuestAccess(null, [CopyKey]));
        var other = EngineFixture.PrivateOptions(Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6]);
        var otherDriver = DriverOn(other);
        var remote = SpecOn(new GuestNetwork(other.BridgeCidr), engine.NewSpec(hostname: "bk-remote"));
        string? archive = null;
        try
        {
            await ExecAsync(spec.Id, "sh", "-c", "echo original > /root/data.txt");
            archive = (await Backups.BackupAsync(Driver, new BackupOptions(spec.Id, Folder))).Archive;

            (await Backups.RestoreAsync(new RestoreOptions(archive, AsNew: copy, KeepGuestAccess: false))).ShouldBe(copy.Id);

            (await ExecAsync(copy.Id, "hostname")).ShouldBe("bk-copy");
            (await ExecAsync(copy.Id, "cat", "/root/.ssh/authorized_keys")).ShouldBe(CopyKey, "the copy got the access it was given");
            (await ExecAsync(copy.Id, "cat", "/root/data.txt")).ShouldBe("original");
            await ExecAsync(copy.Id, "sh", "-c", "echo changed-in-copy > /root/data.txt");
            (await ExecAsync(spec.Id, "cat", "/root/data.txt")).ShouldBe("original", "the copy has a disk of its own");
            (await ExecAsync(spec.Id, "hostname")).ShouldBe("bk-orig");

            // Another node: its own state folder (none of this node's shared bases), bridge and subnet.
            var restored = await new InstanceBackups(other, new DriverRegistry([otherDriver])).RestoreAsync(new RestoreOptions(archive, AsNew: remote));
            restored.ShouldBe(remote.Id);
            var r = await otherDriver.ExecAsync(new ExecOptions(remote.Id, ["sh", "-c", "hostname; cat /root/data.txt; ip -4 -o addr show eth0"]));
            r.ExitCode.ShouldBe(0, r.StdErr);
            r.StdOut.ShouldStartWith("bk-remote\noriginal\n");
            (await otherDriver.ExecAsync(new ExecOptions(remote.Id, ["cat", "/root/.ssh/authorized_keys"]))).StdOut.Trim().ShouldBe(OriginalKey, "by default the guest keeps its own access");
            r.StdOut.ShouldContain(remote.Network.IPv4 + "/");
        }
        finally
        {
            await Driver.DeleteAsync(new DeleteOptions(copy.Id, Force: true));
            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
            await RemoveNodeAsync(other, otherDriver, remote.Id);
            DeleteArchive(archive);
        }
    }

    [Fact]
    public async Task CorruptOrTruncatedBackups_AreRefused_AndTheVpsIsUntouched()
    {
        Require();
        var spec = await RunningAsync(engine.NewSpec(hostname: "bk-keep"));
        string? archive = null;
        var bad = new List<string>();
        try
        {
            await ExecAsync(spec.Id, "sh", "-c", "echo in-backup > /root/data.txt");
            archive = (await Backups.BackupAsync(Driver, new BackupOptions(spec.Id, Folder))).Archive;
            await ExecAsync(spec.Id, "sh", "-c", "echo newer > /root/data.txt");
            var pid = (await Driver.GetStateAsync(new StateOptions(spec.Id))).InitPid;
            var bytes = await File.ReadAllBytesAsync(archive);
            var sum = await File.ReadAllTextAsync(archive + ".sha256");

            string Variant(string name, byte[] content, bool freshChecksum)
            {
                var path = Path.Combine(Folder, name + BackupArchive.Extension);
                File.WriteAllBytes(path, content);
                File.WriteAllText(path + ".sha256", freshChecksum ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content)) + "  x\n" : sum);
                bad.Add(path);
                return path;
            }

            var flipped = (byte[])bytes.Clone();
            flipped[bytes.Length / 2] ^= 0x40;
            var cases = new Dictionary<string, string>
            {
                ["truncated"] = Variant("truncated", bytes[..(bytes.Length / 2)], freshChecksum: false),
                ["flipped byte"] = Variant("flipped", flipped, freshChecksum: false),
                // The checksum file rewritten to match: the archive's own checks and the disks' sha256 still refuse it.
                ["flipped byte, matching checksum"] = Variant("flipped-resummed", flipped, freshChecksum: true),
                ["truncated, matching checksum"] = Variant("truncated-resummed", bytes[..(bytes.Length * 3 / 4)], freshChecksum: true),
            };
            var noSum = Variant("no-checksum", bytes, freshChecksum: false);
            File.Delete(noSum + ".sha256");
            cases["no checksum file"] = noSum;

            foreach (var (what, path) in cases)
            {
                var ex = await Should.ThrowAsync<EngineException>(() => Backups.RestoreAsync(new RestoreOptions(path)), customMessage: what);
                ex.Code.ShouldBe(EngineErrorCode.CorruptBackup, what + ": " + ex.Message);
                ex.Message.ShouldContain("refused", customMessage: what);
                ex.Field.ShouldBe("Archive", what);
            }

            var state = await Driver.GetStateAsync(new StateOptions(spec.Id));
            state.Status.ShouldBe(InstanceStatus.Running);
            state.InitPid.ShouldBe(pid, "the guest was never stopped");
            (await ExecAsync(spec.Id, "cat", "/root/data.txt")).ShouldBe("newer");
            Directory.EnumerateDirectories(Path.Combine(engine.Options.StateDirectory, "staging")).ShouldBeEmpty("no unpacked leftovers");

            // The good archive still restores over the running VPS.
            await Backups.RestoreAsync(new RestoreOptions(archive));
            (await ExecAsync(spec.Id, "cat", "/root/data.txt")).ShouldBe("in-backup");
        }
        finally
        {
            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
            DeleteArchive(archive);
            bad.ForEach(DeleteArchive);
        }
    }

    [Fact]
    public async Task Clone_FromASnapshot_RunsWithTheSnapshotsData_AndWritesStayApart()
    {
        Require();
        var spec = await RunningAsync(engine.NewSpec(hostname: "cl-src"));
        var clone = engine.NewSpec(hostname: "cl-copy");
        try
        {
            await ExecAsync(spec.Id, "sh", "-c", "echo at-snapshot > /root/data.txt");
            await Driver.CreateSnapshotAsync(new SnapshotOptions(spec.Id, "s1"));
            await ExecAsync(spec.Id, "sh", "-c", "echo after-snapshot > /root/data.txt");

            await Driver.CloneAsync(new CloneOptions(spec.Id, "s1", clone));
            (await Driver.GetStateAsync(new StateOptions(clone.Id))).Status.ShouldBe(InstanceStatus.Stopped);
            await Driver.StartAsync(new StartOptions(clone.Id));

            (await ExecAsync(clone.Id, "hostname")).ShouldBe("cl-copy");
            (await ExecAsync(clone.Id, "cat", "/root/data.txt")).ShouldBe("at-snapshot");
            await ExecAsync(clone.Id, "sh", "-c", "echo written-in-clone > /root/data.txt && echo x > /root/clone-only && sync");
            (await ExecAsync(spec.Id, "cat", "/root/data.txt")).ShouldBe("after-snapshot");
            (await Driver.ExecAsync(new ExecOptions(spec.Id, ["test", "-e", "/root/clone-only"]))).ExitCode.ShouldNotBe(0);
            (await ExecAsync(spec.Id, "hostname")).ShouldBe("cl-src");

            // The clone lives on after its source and the snapshot are gone.
            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
            await Driver.RestartAsync(new RestartOptions(clone.Id, TimeSpan.Zero));
            (await ExecAsync(clone.Id, "cat", "/root/data.txt")).ShouldBe("written-in-clone");
            await CloneChecksAsync(clone);
        }
        finally
        {
            await Driver.DeleteAsync(new DeleteOptions(clone.Id, Force: true));
            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
        }
    }

    /// <summary>Driver-specific checks on the backup of a running guest.</summary>
    protected virtual void RunningBackupChecks(BackupResult backup)
    {
    }

    /// <summary>Driver-specific checks on a running clone (e.g. that its disk is copy-on-write).</summary>
    protected virtual Task CloneChecksAsync(InstanceSpec clone) => Task.CompletedTask;

    /// <summary>Runs a command in a guest of <see cref="Driver"/>, failing the test on a non-zero exit.</summary>
    protected async Task<string> ExecAsync(string id, params string[] command)
    {
        var r = await Driver.ExecAsync(new ExecOptions(id, command));
        r.ExitCode.ShouldBe(0, $"`{string.Join(' ', command)}` in {id}: {r.StdErr}");
        return r.StdOut.Trim();
    }

    private async Task<InstanceSpec> RunningAsync(InstanceSpec spec)
    {
        await Driver.CreateAsync(new CreateOptions(spec));
        await Driver.StartAsync(new StartOptions(spec.Id));
        return spec;
    }

    /// <summary>The spec moved onto another node's guest network (same host part, that network's prefix).</summary>
    private static InstanceSpec SpecOn(GuestNetwork network, InstanceSpec spec)
    {
        var gw = network.Gateway.GetAddressBytes();
        var host = spec.Network.IPv4.Split('.')[^1];
        return spec with { Network = spec.Network with { IPv4 = string.Create(CultureInfo.InvariantCulture, $"{gw[0]}.{gw[1]}.{gw[2]}.{host}") } };
    }

    /// <summary>Removes what a test's second node made: its guest, bridge, nftables table and state folder.</summary>
    private static async Task RemoveNodeAsync(EngineOptions other, IInstanceDriver driver, string id)
    {
        await driver.DeleteAsync(new DeleteOptions(id, Force: true));
        if (driver is LxcDriver lxc)
        {
            await lxc.DiskPool.IdleAsync();
        }

        var runner = ProcessRunner.Instance;
        await new AntiSpoofRules(other.NftTable, runner).DeleteTableAsync();
        await new NodeBridge(other.BridgeName, new GuestNetwork(other.BridgeCidr), runner).DeleteAsync();
        if (Directory.Exists(other.StateDirectory) && Panel.Hypervisor.Storage.MountTable.MountsUnder(other.StateDirectory).Count == 0)
        {
            Directory.Delete(other.StateDirectory, recursive: true);
        }
    }

    /// <summary>Removes an archive and its checksum file.</summary>
    protected static void DeleteArchive(string? archive)
    {
        if (archive is not null)
        {
            File.Delete(archive);
            File.Delete(archive + ".sha256");
        }
    }
}

/// <summary>The backup contract for system containers.</summary>
[Collection(EngineCollection.Name)]
public sealed class LxcBackupTests(EngineFixture fixture) : BackupContractTests(fixture)
{
    protected override IInstanceDriver Driver => Engine.Lxc;

    protected override void Require() => Engine.RequireEngine();

    protected override IInstanceDriver DriverOn(EngineOptions options) => new LxcDriver(options);
}

/// <summary>The backup contract for User-Mode Linux guests.</summary>
[Collection(EngineCollection.Name)]
public sealed class UmlBackupTests(EngineFixture fixture) : BackupContractTests(fixture)
{
    protected override IInstanceDriver Driver => Engine.Uml;

    protected override void Require() => Engine.RequireUml();

    protected override IInstanceDriver DriverOn(EngineOptions options) => new UmlDriver(options);

    protected override Task CloneChecksAsync(InstanceSpec clone)
    {
        // Copy-on-write: the clone's own file holds only what it wrote, over a shared base made from the snapshot.
        var dir = Path.Combine(Engine.Options.StateDirectory, "uml", clone.Id);
        File.Exists(Path.Combine(dir, "disk.cow")).ShouldBeTrue();
        new DirectoryInfo(Path.Combine(Engine.Options.StateDirectory, "uml-bases")).EnumerateFiles("clone-*.ext4").ShouldHaveSingleItem();
        Panel.Hypervisor.Drivers.Uml.Native.LStat(Path.Combine(dir, "disk.cow"))!.Value.AllocatedBytes.ShouldBeLessThan(clone.Limits.DiskBytes / 8);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The backup contract for QEMU guests (standalone qcow2 exports), and what a restored disk without
/// a backing file must still do: snapshots, growth, a restore over it, a delete that leaves nothing.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class QemuBackupTests(EngineFixture fixture) : BackupContractTests(fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected override IInstanceDriver Driver => Engine.Qemu;

    protected override void Require() => Engine.RequireQemu();

    protected override IInstanceDriver DriverOn(EngineOptions options) => new QemuDriver(options);

    protected override void RunningBackupChecks(BackupResult backup)
    {
        // The guest is paused only while the backup job starts, not while the disk is copied.
        var paused = System.Text.RegularExpressions.Regex.Match(backup.Manifest.Consistency, "paused for ([0-9]+) ms");
        paused.Success.ShouldBeTrue(backup.Manifest.Consistency);
        int.Parse(paused.Groups[1].Value, CultureInfo.InvariantCulture).ShouldBeLessThan(1000, backup.Manifest.Consistency);
        backup.Manifest.Consistency.ShouldContain("guest synced");
    }

    protected override async Task CloneChecksAsync(InstanceSpec clone)
    {
        // Copy-on-write over the shared image base: the clone's overlay holds the source's own blocks and its writes.
        var info = await ProcessRunner.Instance.RunAsync("qemu-img", ["info", "-U", "--output=json", Path.Combine(Engine.Qemu.VmsDirectory, clone.Id, "disk.qcow2")]);
        using var json = System.Text.Json.JsonDocument.Parse(info.ThrowIfFailed().StdOut);
        Path.GetDirectoryName(json.RootElement.GetProperty("full-backing-filename").GetString()).ShouldBe(Path.Combine(Engine.Qemu.VmsDirectory, ".bases"));
        json.RootElement.GetProperty("actual-size").GetInt64().ShouldBeLessThan(clone.Limits.DiskBytes / 8);
    }

    [Fact]
    public async Task RestoredDisk_WithoutABase_Snapshots_Grows_IsRestoredOver_AndIsDeletedLeavingNothing()
    {
        Require();
        var qemu = Engine.Qemu;
        var source = Engine.NewSpec(hostname: "bk-cold");
        var copy = Engine.NewSpec(hostname: "bk-standalone");
        string? archive = null;
        try
        {
            // A stopped guest is converted (no boot needed); the copy starts stopped too.
            await qemu.CreateAsync(new CreateOptions(source), Ct);
            var backup = await Backups.BackupAsync(qemu, new BackupOptions(source.Id, Folder), Ct);
            archive = backup.Archive;
            backup.Manifest.Consistency.ShouldStartWith("stopped");
            await Backups.RestoreAsync(new RestoreOptions(archive, AsNew: copy, KeepGuestAccess: false, Start: false), Ct);
            await qemu.DeleteAsync(new DeleteOptions(source.Id), Ct);
            var disk = Path.Combine(qemu.VmsDirectory, copy.Id, "disk.qcow2");
            (await DiskInfoAsync(disk)).TryGetProperty("backing-filename", out _).ShouldBeFalse("a restored disk is standalone");
            (await qemu.GetStateAsync(new StateOptions(copy.Id), Ct)).Status.ShouldBe(InstanceStatus.Stopped);
            DeleteArchive(archive);
            archive = (await Backups.BackupAsync(qemu, new BackupOptions(copy.Id, Folder), Ct)).Archive; // of a disk without a base

            await qemu.CreateSnapshotAsync(new SnapshotOptions(copy.Id, "cold"), Ct);
            var bigger = copy.Limits with { DiskBytes = 384L << 20 };
            await qemu.UpdateLimitsAsync(new UpdateLimitsOptions(copy.Id, bigger), Ct);
            (await DiskInfoAsync(disk)).GetProperty("virtual-size").GetInt64().ShouldBe(bigger.DiskBytes);
            await qemu.StartAsync(new StartOptions(copy.Id), Ct);
            (await ExecAsync(copy.Id, "hostname")).ShouldBe("bk-standalone");
            var sizeKb = long.Parse(await ExecAsync(copy.Id, "sh", "-c", "df -k / | tail -1 | tr -s ' ' | cut -d' ' -f2"), CultureInfo.InvariantCulture);
            sizeKb.ShouldBeInRange(340L * 1024, 384L * 1024, "the filesystem grew to the new disk");
            await ExecAsync(copy.Id, "sh", "-c", "echo after-backup > /root/data.txt");
            await qemu.CreateSnapshotAsync(new SnapshotOptions(copy.Id, "live"), Ct);

            // Restored over while running (a disk with snapshots): the backup's content, the snapshots kept, the disk the plan's size.
            var pid = (await qemu.GetStateAsync(new StateOptions(copy.Id), Ct)).InitPid;
            (await Backups.RestoreAsync(new RestoreOptions(archive), Ct)).ShouldBe(copy.Id);
            var state = await qemu.GetStateAsync(new StateOptions(copy.Id), Ct);
            state.Status.ShouldBe(InstanceStatus.Running, "a running VPS is started again");
            state.InitPid.ShouldNotBe(pid);
            (await qemu.ExecAsync(new ExecOptions(copy.Id, ["test", "-e", "/root/data.txt"]), Ct)).ExitCode.ShouldNotBe(0, "the backup's content");
            (await qemu.ListSnapshotsAsync(copy.Id, Ct)).Select(s => s.Name).ShouldBe(["cold", "live"]);
            (await DiskInfoAsync(disk)).GetProperty("virtual-size").GetInt64().ShouldBe(bigger.DiskBytes);
            await qemu.RestoreSnapshotAsync(new SnapshotOptions(copy.Id, "live"), Ct);
            (await ExecAsync(copy.Id, "cat", "/root/data.txt")).ShouldBe("after-backup", "a snapshot taken before the restore still works");

            await qemu.DeleteAsync(new DeleteOptions(copy.Id, Force: true), Ct);
            await ShouldLeaveNothingAsync(copy.Id);
        }
        finally
        {
            await qemu.DeleteAsync(new DeleteOptions(copy.Id, Force: true), Ct);
            await qemu.DeleteAsync(new DeleteOptions(source.Id, Force: true), Ct);
            DeleteArchive(archive);
        }
    }

    [Fact]
    public async Task Restore_RefusesADiskThatPointsAtHostFiles_OrIsNotQcow2_AndCreatesNothing()
    {
        Require();
        var runner = ProcessRunner.Instance;
        var scratch = Path.Combine(Engine.Options.StateDirectory, "hostile-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(scratch);
        var archives = new List<string>();
        try
        {
            var cases = new Dictionary<string, string[]>
            {
                ["backing file"] = ["create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", "DISK", "64M"],
                ["external data file"] = ["create", "-q", "-f", "qcow2", "-o", "data_file=" + Path.Combine(scratch, "data.raw") + ",data_file_raw=on", "DISK", "64M"],
                ["raw image"] = ["create", "-q", "-f", "raw", "DISK", "64M"],
            };
            foreach (var (what, args) in cases)
            {
                var spec = Engine.NewSpec();
                var folder = Path.Combine(scratch, what.Replace(' ', '-'));
                Directory.CreateDirectory(folder);
                var disk = Path.Combine(folder, "disk.qcow2");
                (await runner.RunAsync("qemu-img", [.. args.Select(a => a == "DISK" ? disk : a)], null, Ct)).ThrowIfFailed();
                var manifest = new BackupManifest(BackupArchive.FormatVersion, spec.Id, "qemu", spec.Image, "", spec,
                    [new BackupDisk("disk.qcow2", new FileInfo(disk).Length, await DiskHash.ComputeAsync(disk, Ct))], "stopped", DateTime.UtcNow);
                var archive = Path.Combine(Folder, spec.Id + BackupArchive.Extension);
                Directory.CreateDirectory(Folder);
                archives.Add(archive);
                await new BackupArchive(runner).WriteAsync(folder, manifest, archive, Ct);

                var ex = await Should.ThrowAsync<EngineException>(() => Backups.RestoreAsync(new RestoreOptions(archive), Ct), customMessage: what);
                ex.Code.ShouldBe(EngineErrorCode.CorruptBackup, what + ": " + ex.Message);
                ex.Field.ShouldBe("Archive", what);
                ex.Message.ShouldContain(what == "raw image" ? "not a qcow2" : what, Case.Insensitive, what);
                (await Engine.Qemu.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Missing, what);
                Directory.Exists(Path.Combine(Engine.Qemu.VmsDirectory, spec.Id)).ShouldBeFalse(what);
            }
        }
        finally
        {
            archives.ForEach(DeleteArchive);
            Directory.Delete(scratch, recursive: true);
        }
    }

    [Fact]
    public async Task Clone_WithBadInput_GivesTypedErrors_AndCreatesNothing()
    {
        Require();
        var qemu = Engine.Qemu;
        var source = Engine.NewSpec();
        var clone = Engine.NewSpec();
        try
        {
            await qemu.CreateAsync(new CreateOptions(source), Ct);
            await qemu.CreateSnapshotAsync(new SnapshotOptions(source.Id, "s1"), Ct);

            (await Should.ThrowAsync<EngineException>(() => qemu.CloneAsync(new CloneOptions(source.Id, "s1", source), Ct))).Field.ShouldBe("Id");
            (await Should.ThrowAsync<EngineException>(() => qemu.CloneAsync(new CloneOptions(source.Id, "never-taken", clone), Ct))).Code.ShouldBe(EngineErrorCode.NotFound);
            (await Should.ThrowAsync<EngineException>(() => qemu.CloneAsync(new CloneOptions(source.Id, "../s1", clone), Ct))).Field.ShouldBe("Snapshot");
            (await Should.ThrowAsync<EngineException>(() => qemu.CloneAsync(new CloneOptions("no-such-vm", "s1", clone), Ct))).Code.ShouldBe(EngineErrorCode.NotFound);
            var small = clone with { Limits = clone.Limits with { DiskBytes = 128L << 20 } };
            (await Should.ThrowAsync<EngineException>(() => qemu.CloneAsync(new CloneOptions(source.Id, "s1", small), Ct))).Field.ShouldBe("Limits.DiskBytes");
            Directory.Exists(Path.Combine(qemu.VmsDirectory, clone.Id)).ShouldBeFalse("a failed clone leaves no folder");
            (await qemu.ListSnapshotsAsync(source.Id, Ct)).ShouldHaveSingleItem().Name.ShouldBe("s1");
        }
        finally
        {
            await qemu.DeleteAsync(new DeleteOptions(clone.Id, Force: true), Ct);
            await qemu.DeleteAsync(new DeleteOptions(source.Id, Force: true), Ct);
        }
    }

    private static async Task<System.Text.Json.JsonElement> DiskInfoAsync(string disk)
    {
        var info = await ProcessRunner.Instance.RunAsync("qemu-img", ["info", "-U", "--output=json", disk]);
        using var json = System.Text.Json.JsonDocument.Parse(info.ThrowIfFailed().StdOut);
        return json.RootElement.Clone();
    }

    private async Task ShouldLeaveNothingAsync(string id)
    {
        var state = Engine.Options.StateDirectory;
        Directory.Exists(Path.Combine(Engine.Qemu.VmsDirectory, id)).ShouldBeFalse("the instance folder is gone");
        Directory.EnumerateFileSystemEntries(state, "*", SearchOption.AllDirectories)
            .Where(e => !e.StartsWith(Folder + "/", StringComparison.Ordinal)) // the backups are kept on purpose
            .Where(e => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(e), "(^|[^a-z0-9-])" + id + "($|[^0-9])"))
            .ShouldBeEmpty("nothing of the VPS under the state folder");
        Directory.EnumerateDirectories(Path.Combine(state, "staging")).ShouldBeEmpty("no staging leftovers");
        var port = PortName.For(id);
        Directory.Exists($"/sys/class/net/{port}").ShouldBeFalse("the TAP is gone");
        (await new AntiSpoofRules(Engine.Options.NftTable, ProcessRunner.Instance).HasRulesAsync(port, Ct)).ShouldBeFalse("the nft chain is gone");
        Directory.EnumerateDirectories("/sys/fs/cgroup")
            .SelectMany(c => Directory.EnumerateDirectories(c))
            .Where(d => d.EndsWith("." + id, StringComparison.Ordinal))
            .ShouldBeEmpty("no cgroup of the VM is left");
    }
}
