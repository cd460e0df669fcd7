using System.Globalization;
using System.Text.RegularExpressions;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Hypervisor.Storage;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Contract;

/// <summary>
/// What every driver (<see cref="IInstanceDriver"/>) must do, the same checks against real guests of
/// each: create, start and exec (<c>hostname</c> comes back), a console round trip (sign in, run a
/// command), stop and start, growing the limits and the disk (live or at the next boot, as the driver
/// can), delete leaving nothing on the host; snapshot, change a file, restore, the old content is back.
/// Backup, delete and restore are the same kind of contract in
/// <see cref="Backups.BackupContractTests"/> (with restores as a new id, on another node, and clones).
/// Boots are expensive (QEMU under TCG takes seconds), so each test boots one guest and does all it
/// can with it; a subclass adds its driver's own checks through the hooks rather than booting again.
/// An engine process killed with SIGKILL (<see cref="EngineAgent"/>) leaves its guests running, and
/// a new engine recovers them (<see cref="IInstanceDriver.RecoverAsync"/>).
/// </summary>
public abstract partial class DriverContractTests(EngineFixture engine)
{
    /// <summary>The password the contract's guests get (the console round trip signs in with it).</summary>
    protected const string Password = "C0ntract-pass";

    /// <summary>The run's engine.</summary>
    protected EngineFixture Engine => engine;

    /// <summary>Cancelled when the test run is.</summary>
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The driver under test on the run's engine.</summary>
    protected abstract IInstanceDriver Driver { get; }

    /// <summary>Skips when the driver cannot run here (never on CI).</summary>
    protected abstract void Require();

    /// <summary>The instance folder of <paramref name="id"/> under the state folder.</summary>
    protected abstract string InstanceFolder(string id);

    [Fact]
    public async Task Lifecycle_CreateStartExecConsole_StopStart_Resize_Delete_LeavesNothingBehind()
    {
        Require();
        var spec = Engine.NewSpec(hostname: $"contract-{Driver.Name}.example", access: new GuestAccess(Password, []));
        try
        {
            await Driver.CreateAsync(new CreateOptions(spec), Ct);
            (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Stopped);
            Directory.Exists(InstanceFolder(spec.Id)).ShouldBeTrue();

            // Start, exec: the guest's own host name comes back.
            await Driver.StartAsync(new StartOptions(spec.Id), Ct);
            var running = await Driver.GetStateAsync(new StateOptions(spec.Id), Ct);
            running.Status.ShouldBe(InstanceStatus.Running);
            var pid = running.InitPid.ShouldNotBeNull();
            AncestorsOf(pid).ShouldNotContain(Environment.ProcessId, "the guest outlives the engine: it is not its descendant");
            (await ExecAsync(spec.Id, "hostname")).ShouldBe(spec.Hostname);
            await Driver.StartAsync(new StartOptions(spec.Id), Ct); // starting a running guest does nothing
            (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).InitPid.ShouldBe(pid);
            (await Should.ThrowAsync<EngineException>(() => Driver.DeleteAsync(new DeleteOptions(spec.Id), Ct))).Code.ShouldBe(EngineErrorCode.InvalidState);

            await RunningChecksAsync(spec, pid);

            // Stop and start.
            await StopGracefullyAsync(spec);
            (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Stopped);
            IsGone(pid).ShouldBeTrue("the guest's main process is gone");
            Directory.Exists($"/sys/class/net/{PortName.For(spec.Id)}").ShouldBeFalse("a stopped guest has no port");
            await Driver.StopAsync(new StopOptions(spec.Id, TimeSpan.Zero), Ct); // stopping a stopped guest does nothing
            await Driver.StartAsync(new StartOptions(spec.Id), Ct);
            (await ExecAsync(spec.Id, "hostname")).ShouldBe(spec.Hostname);

            // Console round trip: the login prompt, signing in, a command that only a shell runs. (After the
            // stop: UML hangs its console line up when a console client leaves, and init's messages are lost.)
            await using (var console = new ConsoleReader(await Driver.OpenConsoleAsync(new ConsoleOptions(spec.Id, 100, 30), Ct)))
            {
                await console.TypeAsync("\r");
                var at = await console.WaitForAsync("login:");
                await console.TypeAsync("root\r");
                at = await console.WaitForAsync("Password:", at);
                await console.TypeAsync(Password + "\r");
                await Task.Delay(500, Ct);
                // The echo of the typed line shows "$(hostname)"; only a shell that ran it shows the name.
                await console.TypeAsync("echo H=$(hostname)\r");
                await console.WaitForAsync("H=" + spec.Hostname, at);
                console.Text.ShouldNotContain("Login incorrect");
            }

            // Resize while running: what the driver changes live now, the rest (RAM, disk) at the next boot.
            var bigger = spec.Limits with { Vcpus = 2, MemoryBytes = 192L << 20, DiskBytes = 384L << 20, MaxProcesses = 80 };
            await Driver.UpdateLimitsAsync(new UpdateLimitsOptions(spec.Id, bigger), Ct);
            await LiveResizeChecksAsync(spec, bigger);
            (await Should.ThrowAsync<EngineException>(() => Driver.UpdateLimitsAsync(new UpdateLimitsOptions(spec.Id, bigger with { DiskBytes = 256L << 20 }), Ct)))
                .Field.ShouldBe("Limits.DiskBytes", "a disk only grows");
            await Driver.StopAsync(new StopOptions(spec.Id, TimeSpan.Zero), Ct);
            await Driver.StartAsync(new StartOptions(spec.Id), Ct);
            var m = (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Metrics.ShouldNotBeNull();
            m.MemoryLimitBytes.ShouldBe(bigger.MemoryBytes);
            m.MemoryBytes.ShouldBeGreaterThan(0);
            m.DiskTotalBytes.ShouldBeInRange(bigger.DiskBytes * 8 / 10, bigger.DiskBytes);
            var diskKb = long.Parse(await ExecAsync(spec.Id, "sh", "-c", "df -k / | tail -1 | tr -s ' ' | cut -d' ' -f2"), CultureInfo.InvariantCulture);
            diskKb.ShouldBeInRange(300L * 1024, 384L * 1024, "the guest's filesystem grew to the new disk");
            var memKb = long.Parse(await ExecAsync(spec.Id, "sh", "-c", "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2"), CultureInfo.InvariantCulture);
            memKb.ShouldBeGreaterThan(128L * 1024, "the guest sees more RAM than its old plan");
            memKb.ShouldBeLessThanOrEqualTo(192L * 1024);
            await ResizedChecksAsync(spec, bigger);
            (await ExecAsync(spec.Id, "hostname")).ShouldBe(spec.Hostname);

            // Delete: nothing of the guest is left on the host.
            var last = (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).InitPid.ShouldNotBeNull();
            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true), Ct);
            (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Missing);
            IsGone(last).ShouldBeTrue("the guest's main process is gone");
            await ShouldLeaveNothingAsync(spec.Id);
            await Driver.DeleteAsync(new DeleteOptions(spec.Id), Ct); // deleting a missing guest does nothing
        }
        finally
        {
            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true), CancellationToken.None);
        }
    }

    [Fact]
    public async Task Snapshot_ThenChangeAFile_ThenRestore_BringsTheOldContentBack()
    {
        Require();
        var spec = Engine.NewSpec(hostname: $"snap-{Driver.Name}");
        try
        {
            await Driver.CreateAsync(new CreateOptions(spec), Ct);
            await Driver.StartAsync(new StartOptions(spec.Id), Ct);
            await ExecAsync(spec.Id, "sh", "-c", "echo before > /root/data.txt && sync");

            var snap = await Driver.CreateSnapshotAsync(new SnapshotOptions(spec.Id, "before-change"), Ct);
            snap.Name.ShouldBe("before-change");
            (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Running, "a snapshot of a running guest only pauses it");
            await ExecAsync(spec.Id, "sh", "-c", "echo after > /root/data.txt && echo new > /root/extra.txt && sync");
            var pid = (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).InitPid.ShouldNotBeNull();
            await Driver.RestoreSnapshotAsync(new SnapshotOptions(spec.Id, "before-change"), Ct);

            (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Running, "a running guest runs again after the restore");
            (await ExecAsync(spec.Id, "cat", "/root/data.txt")).ShouldBe("before");
            (await Driver.ExecAsync(new ExecOptions(spec.Id, ["test", "-e", "/root/extra.txt"]), Ct)).ExitCode.ShouldNotBe(0, "a file made after the snapshot is gone");
            (await ExecAsync(spec.Id, "hostname")).ShouldBe(spec.Hostname);
            (await Driver.ListSnapshotsAsync(spec.Id, Ct)).Select(s => s.Name).ShouldBe(["before-change"]);
            (await Should.ThrowAsync<EngineException>(() => Driver.CreateSnapshotAsync(new SnapshotOptions(spec.Id, "before-change"), Ct))).Code.ShouldBe(EngineErrorCode.AlreadyExists);
            (await Should.ThrowAsync<EngineException>(() => Driver.RestoreSnapshotAsync(new SnapshotOptions(spec.Id, "never-taken"), Ct))).Code.ShouldBe(EngineErrorCode.NotFound);
            await SnapshotChecksAsync(spec, snap, pid);

            await Driver.DeleteSnapshotAsync(new SnapshotOptions(spec.Id, "before-change"), Ct);
            (await Driver.ListSnapshotsAsync(spec.Id, Ct)).ShouldBeEmpty();
        }
        finally
        {
            await Driver.DeleteAsync(new DeleteOptions(spec.Id, Force: true), CancellationToken.None);
        }
    }

    [Fact]
    public async Task EngineProcess_KilledWithSigkill_LeavesTheGuestRunning_AndANewEngineRecoversIt()
    {
        Require();
        var spec = Engine.NewSpec(hostname: $"survivor-{Driver.Name}");
        var fresh = EngineAgent.Driver(Driver.Name, Engine.Options); // this process as a restarted engine
        System.Diagnostics.Process? agent = null;
        System.Diagnostics.Process? again = null;
        try
        {
            // An engine process starts the guest, then dies without any cleanup.
            agent = EngineAgent.Start(Engine.Options, Driver.Name, "run", System.Text.Json.JsonSerializer.Serialize(spec));
            var stderr = agent.StandardError.ReadToEndAsync(Ct);
            var line = await agent.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(120), Ct);
            if (line != "ready")
            {
                agent.Kill();
                Assert.Fail($"the engine agent did not start the guest: {line} {await stderr}");
            }

            agent.Kill(entireProcessTree: false); // SIGKILL: no cleanup of any kind
            await agent.WaitForExitAsync(Ct);

            // The guest runs on: its process is alive and a new driver instance reaches it.
            var state = await fresh.GetStateAsync(new StateOptions(spec.Id), Ct);
            state.Status.ShouldBe(InstanceStatus.Running);
            var pid = state.InitPid.ShouldNotBeNull();
            IsGone(pid).ShouldBeFalse("the guest's main process survived the engine");
            (await fresh.ExecAsync(new ExecOptions(spec.Id, ["hostname"]), Ct)).StdOut.Trim().ShouldBe(spec.Hostname);

            // A new engine process recovers it: running, the same process, its metrics, its port's rules.
            again = EngineAgent.Start(Engine.Options, Driver.Name, "recover");
            var againErr = again.StandardError.ReadToEndAsync(Ct);
            var json = await again.StandardOutput.ReadToEndAsync(Ct).WaitAsync(TimeSpan.FromSeconds(120), Ct);
            await again.WaitForExitAsync(Ct);
            again.ExitCode.ShouldBe(0, await againErr);
            var recovered = System.Text.Json.JsonSerializer.Deserialize<List<InstanceState>>(json)!.Single(s => s.Id == spec.Id);
            recovered.Status.ShouldBe(InstanceStatus.Running);
            recovered.InitPid.ShouldBe(pid);
            recovered.Metrics.ShouldNotBeNull().MemoryBytes.ShouldBeGreaterThan(0);
            recovered.Metrics.MemoryLimitBytes.ShouldBe(spec.Limits.MemoryBytes);
            (await new AntiSpoofRules(Engine.Options.NftTable, ProcessRunner.Instance).HasRulesAsync(PortName.For(spec.Id), Ct)).ShouldBeTrue();

            // Stop and delete work afterwards, from the restarted engine.
            await fresh.StopAsync(new StopOptions(spec.Id, TimeSpan.FromSeconds(10)), Ct);
            (await fresh.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Stopped);
            IsGone(pid).ShouldBeTrue();
            await fresh.DeleteAsync(new DeleteOptions(spec.Id), Ct);
            await ShouldLeaveNothingAsync(spec.Id);
        }
        finally
        {
            foreach (var p in new[] { agent, again })
            {
                if (p is not null)
                {
                    if (!p.HasExited)
                    {
                        p.Kill(entireProcessTree: true);
                    }

                    p.Dispose();
                }
            }

            await fresh.DeleteAsync(new DeleteOptions(spec.Id, Force: true), CancellationToken.None);
            if (fresh is Panel.Hypervisor.Drivers.Lxc.LxcDriver lxc)
            {
                await lxc.DiskPool.IdleAsync();
            }
        }
    }

    /// <summary>Driver-specific checks on the freshly started guest of the lifecycle test (leave it running).</summary>
    protected virtual Task RunningChecksAsync(InstanceSpec spec, int pid) => Task.CompletedTask;

    /// <summary>Stops the lifecycle test's guest cleanly (a driver may watch its console while it does).</summary>
    protected virtual Task StopGracefullyAsync(InstanceSpec spec) => Driver.StopAsync(new StopOptions(spec.Id, TimeSpan.FromSeconds(10)), Ct);

    /// <summary>What the driver changes live, checked right after the limits were raised on the running guest.</summary>
    protected virtual Task LiveResizeChecksAsync(InstanceSpec spec, InstanceLimits bigger) => Task.CompletedTask;

    /// <summary>Driver-specific checks once the guest booted with its raised limits.</summary>
    protected virtual Task ResizedChecksAsync(InstanceSpec spec, InstanceLimits bigger) => Task.CompletedTask;

    /// <summary>Driver-specific snapshot checks, after the restore (<paramref name="pidBefore"/>: the guest's pid before it).</summary>
    protected virtual Task SnapshotChecksAsync(InstanceSpec spec, SnapshotInfo snapshot, int pidBefore) => Task.CompletedTask;

    /// <summary>Runs a command in a guest of <see cref="Driver"/>, failing the test on a non-zero exit; the trimmed output.</summary>
    protected async Task<string> ExecAsync(string id, params string[] command)
    {
        var r = await Driver.ExecAsync(new ExecOptions(id, command), Ct);
        r.ExitCode.ShouldBe(0, $"`{string.Join(' ', command)}` in {id}: {r.StdErr}");
        return r.StdOut.Trim();
    }

    /// <summary>
    /// Nothing of the instance is left: no folder or file named after it under the state folder, no
    /// mount or loop device, no port, no nftables chain, no cgroup, no process naming it.
    /// </summary>
    protected async Task ShouldLeaveNothingAsync(string id)
    {
        var state = Engine.Options.StateDirectory;
        var named = new Regex("(^|[^a-z0-9-])" + Regex.Escape(id) + "($|[^0-9])");
        Directory.Exists(InstanceFolder(id)).ShouldBeFalse("the instance folder is gone");
        Directory.EnumerateFileSystemEntries(state, "*", SearchOption.AllDirectories)
            .Where(e => named.IsMatch(Path.GetFileName(e)))
            .ShouldBeEmpty("nothing named after the instance under the state folder");
        MountTable.MountsUnder(state).Where(m => named.IsMatch(m)).ShouldBeEmpty("no mount of the instance");
        (await ProcessRunner.Instance.RunAsync("losetup", ["-a"], null, Ct)).StdOut.Split('\n').Where(l => named.IsMatch(l)).ShouldBeEmpty("no loop device of the instance");
        var port = PortName.For(id);
        Directory.Exists($"/sys/class/net/{port}").ShouldBeFalse("the port is gone");
        (await new AntiSpoofRules(Engine.Options.NftTable, ProcessRunner.Instance).HasRulesAsync(port, Ct)).ShouldBeFalse("the port's nftables chain is gone");
        Directory.EnumerateDirectories("/sys/fs/cgroup")
            .SelectMany(c => Directory.Exists(c) ? Directory.EnumerateDirectories(c) : [])
            .Where(d => named.IsMatch(Path.GetFileName(d)))
            .ShouldBeEmpty("no cgroup of the instance is left");
        ProcessesNaming(named).ShouldBeEmpty("no process of the instance runs");
    }

    /// <summary>Command lines of live processes that name the instance.</summary>
    private static List<string> ProcessesNaming(Regex named)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!Path.GetFileName(dir).All(char.IsAsciiDigit) || !int.TryParse(Path.GetFileName(dir), out var pid) || IsGone(pid))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (named.IsMatch(cmdline))
                {
                    found.Add(pid.ToString(CultureInfo.InvariantCulture) + ": " + cmdline);
                }
            }
            catch (IOException)
            {
                // exited meanwhile
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    /// <summary>Exited (a zombie counts: the machine's init may reap orphans late).</summary>
    protected static bool IsGone(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>The chain of parent pids up to PID 1.</summary>
    protected static List<int> AncestorsOf(int pid)
    {
        var list = new List<int>();
        while (pid > 1)
        {
            var status = File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("PPid:", StringComparison.Ordinal));
            pid = int.Parse(status[5..].Trim(), CultureInfo.InvariantCulture);
            list.Add(pid);
        }

        return list;
    }
}

/// <summary>The driver contract for system containers (LXC).</summary>
[Collection(EngineCollection.Name)]
public sealed class LxcContractTests(EngineFixture fixture) : DriverContractTests(fixture)
{
    protected override IInstanceDriver Driver => Engine.Lxc;

    protected override void Require() => Engine.RequireEngine();

    protected override string InstanceFolder(string id) => Path.Combine(Engine.Options.InstancesDirectory, id);

    protected override async Task RunningChecksAsync(InstanceSpec spec, int pid)
        => (await ExecAsync(spec.Id, "cat", "/proc/1/comm")).ShouldBe("init");

    protected override async Task LiveResizeChecksAsync(InstanceSpec spec, InstanceLimits bigger)
        => (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Metrics.ShouldNotBeNull().MemoryLimitBytes.ShouldBe(bigger.MemoryBytes, "a container's memory changes live");

    protected override async Task ResizedChecksAsync(InstanceSpec spec, InstanceLimits bigger)
        => (await ExecAsync(spec.Id, "grep", "MemTotal", "/proc/meminfo")).ShouldContain((bigger.MemoryBytes / 1024).ToString(CultureInfo.InvariantCulture), customMessage: "lxcfs shows the limit");
}

/// <summary>The driver contract for User-Mode Linux guests.</summary>
[Collection(EngineCollection.Name)]
public sealed class UmlContractTests(EngineFixture fixture) : DriverContractTests(fixture)
{
    protected override IInstanceDriver Driver => Engine.Uml;

    protected override void Require() => Engine.RequireUml();

    protected override string InstanceFolder(string id) => Path.Combine(Engine.Options.StateDirectory, "uml", id);

    protected override async Task RunningChecksAsync(InstanceSpec spec, int pid)
    {
        (await ExecAsync(spec.Id, "cat", "/proc/1/comm")).ShouldBe("init");
        (await ExecAsync(spec.Id, "sh", "-c", "grep -c ubd /proc/partitions")).ShouldBe("2", "root disk and config disk");
        File.ReadAllText($"/proc/{pid}/status").ShouldContain("Uid:\t" + File.ReadAllText(Path.Combine(InstanceFolder(spec.Id), "uid")).Trim(),
            customMessage: "the guest kernel runs as its own unprivileged host user");

        await Driver.FreezeAsync(new FreezeOptions(spec.Id), Ct);
        (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Frozen);
        await Driver.UnfreezeAsync(new FreezeOptions(spec.Id), Ct);
        (await ExecAsync(spec.Id, "echo", "alive")).ShouldBe("alive");

        await ExecAsync(spec.Id, "ping", "-c", "1", "-W", "2", Engine.Network.Gateway.ToString());
        var m = (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Metrics.ShouldNotBeNull();
        m.MemoryLimitBytes.ShouldBe(spec.Limits.MemoryBytes);
        m.MemoryBytes.ShouldBeGreaterThan(0);
        m.Processes.ShouldBeGreaterThanOrEqualTo(2);
        m.CpuTime.ShouldBeGreaterThan(TimeSpan.Zero);
        m.DiskTotalBytes.ShouldBe(spec.Limits.DiskBytes);
        m.TxBytes.ShouldBeGreaterThan(0, "the ping left the guest");
        m.RxBytes.ShouldBeGreaterThan(0, "the reply reached it");
    }

    protected override async Task StopGracefullyAsync(InstanceSpec spec)
    {
        // The guest's console shows its init shutting down: a graceful stop, not a kill.
        await using var console = new ConsoleReader(await Driver.OpenConsoleAsync(new ConsoleOptions(spec.Id), Ct));
        await Driver.StopAsync(new StopOptions(spec.Id, TimeSpan.FromSeconds(10)), Ct);
        await console.WaitForAsync("The system is going down", timeout: TimeSpan.FromSeconds(2));
    }

    protected override async Task ResizedChecksAsync(InstanceSpec spec, InstanceLimits bigger)
        => (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Metrics.ShouldNotBeNull().DiskTotalBytes.ShouldBe(bigger.DiskBytes);
}

/// <summary>The driver contract for full virtual machines (QEMU; TCG here).</summary>
[Collection(EngineCollection.Name)]
public sealed class QemuContractTests(EngineFixture fixture) : DriverContractTests(fixture)
{
    protected override IInstanceDriver Driver => Engine.Qemu;

    protected override void Require() => Engine.RequireQemu();

    protected override string InstanceFolder(string id) => Path.Combine(Engine.Qemu.VmsDirectory, id);

    protected override async Task RunningChecksAsync(InstanceSpec spec, int pid)
    {
        var prefix = Engine.Network.Subnet.PrefixLength.ToString(CultureInfo.InvariantCulture);
        (await ExecAsync(spec.Id, "ip", "-4", "addr", "show", "eth0")).ShouldContain($"inet {spec.Network.IPv4}/{prefix}");
        (await ExecAsync(spec.Id, "ping", "-c", "2", "-W", "2", Engine.Network.Gateway.ToString())).ShouldContain("2 packets received");
        // The exec channel carries stdin, stdout, stderr and the exit code unchanged.
        var exec = await Driver.ExecAsync(new ExecOptions(spec.Id, ["sh", "-c", "cat; echo oops >&2; exit 3"], StdIn: "it's \"quoted\" $HOME\n"), Ct);
        exec.ExitCode.ShouldBe(3);
        exec.StdOut.ShouldBe("it's \"quoted\" $HOME\n");
        exec.StdErr.ShouldBe("oops\n");

        var m = (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Metrics.ShouldNotBeNull();
        m.MemoryLimitBytes.ShouldBe(spec.Limits.MemoryBytes);
        m.MemoryBytes.ShouldBeGreaterThan(0);
        m.CpuTime.ShouldBeGreaterThan(TimeSpan.Zero);
        m.DiskTotalBytes.ShouldBe(spec.Limits.DiskBytes);
        m.DiskReadBytes.ShouldBeGreaterThan(0, "QMP block stats: the guest read its root disk");
        m.TxBytes.ShouldBeGreaterThan(0, "the pings left the guest");
        m.RxBytes.ShouldBeGreaterThan(0, "the replies reached it");

        await Driver.FreezeAsync(new FreezeOptions(spec.Id), Ct);
        (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Frozen);
        await Driver.UnfreezeAsync(new FreezeOptions(spec.Id), Ct);
        (await ExecAsync(spec.Id, "echo", "alive")).ShouldBe("alive");
    }

    protected override async Task LiveResizeChecksAsync(InstanceSpec spec, InstanceLimits bigger)
    {
        // The disk grows at once (QMP block_resize); the filesystem, RAM and vCPUs at the next boot.
        var info = await ProcessRunner.Instance.RunAsync("qemu-img", ["info", "-U", "--output=json", Path.Combine(InstanceFolder(spec.Id), "disk.qcow2")], null, Ct);
        using var json = System.Text.Json.JsonDocument.Parse(info.ThrowIfFailed().StdOut);
        json.RootElement.GetProperty("virtual-size").GetInt64().ShouldBe(bigger.DiskBytes);
    }

    protected override async Task ResizedChecksAsync(InstanceSpec spec, InstanceLimits bigger)
        => (await ExecAsync(spec.Id, "nproc")).ShouldBe(bigger.Vcpus.ToString(CultureInfo.InvariantCulture));

    protected override async Task SnapshotChecksAsync(InstanceSpec spec, SnapshotInfo snapshot, int pidBefore)
    {
        // Running: the whole machine was saved and restored in place (same QEMU, no reboot).
        snapshot.SizeBytes.ShouldBeGreaterThan(0, "a live snapshot holds the guest's RAM");
        (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).InitPid.ShouldBe(pidBefore, "restored in place");

        // Stopped: a disk-only snapshot; restoring it into a running guest stops and starts it around the change.
        await Driver.StopAsync(new StopOptions(spec.Id, TimeSpan.FromSeconds(10)), Ct);
        await Driver.CreateSnapshotAsync(new SnapshotOptions(spec.Id, "cold-1"), Ct);
        await Driver.StartAsync(new StartOptions(spec.Id), Ct);
        await ExecAsync(spec.Id, "sh", "-c", "echo changed > /root/data.txt && sync");
        await Driver.RestoreSnapshotAsync(new SnapshotOptions(spec.Id, "cold-1"), Ct);
        (await Driver.GetStateAsync(new StateOptions(spec.Id), Ct)).Status.ShouldBe(InstanceStatus.Running);
        (await ExecAsync(spec.Id, "cat", "/root/data.txt")).ShouldBe("before");
        (await Driver.ListSnapshotsAsync(spec.Id, Ct)).Select(s => s.Name).ShouldBe(["before-change", "cold-1"]);
        await Driver.DeleteSnapshotAsync(new SnapshotOptions(spec.Id, "cold-1"), Ct);
    }
}
