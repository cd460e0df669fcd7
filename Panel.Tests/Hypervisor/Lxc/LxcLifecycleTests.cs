using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Storage;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Lxc;

/// <summary>A container VPS from create to delete, against real LXC on this machine.</summary>
[Collection(EngineCollection.Name)]
public sealed class LxcLifecycleTests(EngineFixture engine)
{
    [Fact]
    public async Task Lifecycle_CreateStartExecStopStartRestartDelete_LeavesNothingBehind()
    {
        engine.RequireEngine();
        var spec = engine.NewSpec(hostname: "web1.example.net");
        var lxc = engine.Lxc;

        await lxc.CreateAsync(new CreateOptions(spec));
        (await lxc.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Stopped);

        await lxc.StartAsync(new StartOptions(spec.Id));
        var running = await lxc.GetStateAsync(new StateOptions(spec.Id));
        running.Status.ShouldBe(InstanceStatus.Running);
        running.InitPid.ShouldNotBeNull();
        (await engine.ExecAsync(spec.Id, "hostname")).ShouldBe("web1.example.net");
        (await engine.ExecAsync(spec.Id, "cat", "/proc/1/comm")).ShouldBe("init");

        await lxc.StopAsync(new StopOptions(spec.Id, TimeSpan.FromSeconds(5)));
        (await lxc.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Stopped);
        Directory.Exists($"/sys/class/net/{PortName.For(spec.Id)}").ShouldBeFalse("a stopped VPS has no port");

        await lxc.StartAsync(new StartOptions(spec.Id));
        (await engine.ExecAsync(spec.Id, "hostname")).ShouldBe("web1.example.net");
        var pidBefore = (await lxc.GetStateAsync(new StateOptions(spec.Id))).InitPid;
        await lxc.RestartAsync(new RestartOptions(spec.Id, TimeSpan.FromSeconds(5)));
        var afterRestart = await lxc.GetStateAsync(new StateOptions(spec.Id));
        afterRestart.Status.ShouldBe(InstanceStatus.Running);
        afterRestart.InitPid.ShouldNotBe(pidBefore, "a restart boots a new init");

        await lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
        await ShouldLeaveNothingAsync(spec);
    }

    [Fact]
    public async Task Start_IsIdempotent_AndStopOfAStoppedInstanceDoesNothing()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync();
        var pid = (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).InitPid;

        await engine.Lxc.StartAsync(new StartOptions(spec.Id));

        (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).InitPid.ShouldBe(pid);
        await engine.Lxc.StopAsync(new StopOptions(spec.Id, TimeSpan.Zero));
        await engine.Lxc.StopAsync(new StopOptions(spec.Id, TimeSpan.Zero));
        (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Stopped);
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id));
    }

    [Fact]
    public async Task Delete_RefusesARunningInstanceWithoutForce()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync();

        var ex = await Should.ThrowAsync<EngineException>(() => engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id)));

        ex.Code.ShouldBe(EngineErrorCode.InvalidState);
        (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Running);
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task FreezeAndUnfreeze_PauseAndResumeTheGuest()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync();

        await engine.Lxc.FreezeAsync(new FreezeOptions(spec.Id));
        (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Frozen);
        await engine.Lxc.UnfreezeAsync(new FreezeOptions(spec.Id));

        (await engine.ExecAsync(spec.Id, "echo", "alive")).ShouldBe("alive");
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task Metrics_ReportMemoryProcessesDiskAndNetwork()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync();
        await engine.ExecAsync(spec.Id, "ping", "-c", "3", "-W", "1", engine.Network.Gateway.ToString());

        var m = (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Metrics.ShouldNotBeNull();

        m.MemoryLimitBytes.ShouldBe(spec.Limits.MemoryBytes);
        m.MemoryBytes.ShouldBeGreaterThan(0);
        m.Processes.ShouldBeGreaterThanOrEqualTo(1);
        m.DiskTotalBytes.ShouldBeInRange(spec.Limits.DiskBytes * 8 / 10, spec.Limits.DiskBytes);
        m.TxBytes.ShouldBeGreaterThan(0, "the pings left the guest");
        m.RxBytes.ShouldBeGreaterThan(0, "the replies reached it");
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task Access_RootPasswordAndSshKeys_AreWrittenIntoTheGuest_AndResetLater()
    {
        engine.RequireEngine();
        const string key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBJpkIV5NVu3YUGgGhTR0MdhHN/AR6N/6szKaS6i6Tfu alice@laptop";
        var spec = engine.NewSpec(access: new GuestAccess("Sup3r-secret", [key]));

        await engine.RunningAsync(spec);

        var shadow = await engine.ExecAsync(spec.Id, "cat", "/etc/shadow");
        shadow.ShouldStartWith("root:$6$");
        shadow.ShouldNotContain("Sup3r-secret");
        (await engine.ExecAsync(spec.Id, "cat", "/root/.ssh/authorized_keys")).ShouldBe(key);
        (await engine.ExecAsync(spec.Id, "stat", "-c", "%a", "/root/.ssh/authorized_keys")).ShouldBe("600");
        File.ReadAllText(Path.Combine(engine.Options.InstancesDirectory, spec.Id, "spec.json")).ShouldNotContain("Sup3r-secret");

        await engine.Lxc.ResetAccessAsync(new ResetAccessOptions(spec.Id, new GuestAccess("An0ther-secret", [])));

        (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Running);
        (await engine.ExecAsync(spec.Id, "cat", "/etc/shadow")).ShouldNotBe(shadow);
        (await engine.ExecAsync(spec.Id, "cat", "/root/.ssh/authorized_keys")).ShouldBeEmpty();
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task ResetAccess_RefusesToWriteThroughASymlinkPlantedByTheGuest()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync();
        var victim = Path.Combine(engine.Options.StateDirectory, "host-file-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(victim, "host data", TestContext.Current.CancellationToken);
        // The guest replaces /root/.ssh with a link to a host path (valid only when read from the host).
        await engine.ExecAsync(spec.Id, "sh", "-c", $"rm -rf /root/.ssh && ln -s {Path.GetDirectoryName(victim)} /root/.ssh");

        var ex = await Should.ThrowAsync<EngineException>(() => engine.Lxc.ResetAccessAsync(new ResetAccessOptions(spec.Id, GuestAccess.None)));

        ex.Message.ShouldContain("symbolic link");
        (await File.ReadAllTextAsync(victim, TestContext.Current.CancellationToken)).ShouldBe("host data");
        File.Exists(Path.Combine(Path.GetDirectoryName(victim)!, "authorized_keys")).ShouldBeFalse();
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task Snapshot_ThenChangeAFile_ThenRestore_BringsTheOldContentBack()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync();
        await engine.ExecAsync(spec.Id, "sh", "-c", "echo before > /root/data.txt");

        var snap = await engine.Lxc.CreateSnapshotAsync(new SnapshotOptions(spec.Id, "before-change"));
        await engine.ExecAsync(spec.Id, "sh", "-c", "echo after > /root/data.txt && echo new > /root/extra.txt");
        await engine.Lxc.RestoreSnapshotAsync(new SnapshotOptions(spec.Id, "before-change"));

        snap.Name.ShouldBe("before-change");
        (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Running);
        (await engine.ExecAsync(spec.Id, "cat", "/root/data.txt")).ShouldBe("before");
        (await engine.Lxc.ExecAsync(new ExecOptions(spec.Id, ["test", "-e", "/root/extra.txt"]))).ExitCode.ShouldNotBe(0);
        (await engine.Lxc.ListSnapshotsAsync(spec.Id)).Select(s => s.Name).ShouldBe(["before-change"]);
        await engine.Lxc.DeleteSnapshotAsync(new SnapshotOptions(spec.Id, "before-change"));
        (await engine.Lxc.ListSnapshotsAsync(spec.Id)).ShouldBeEmpty();
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task UpdateLimits_WhileRunning_AppliesLive_AndGrowsTheDisk()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync();
        var bigger = spec.Limits with { MemoryBytes = 192L << 20, DiskBytes = 512L << 20, MaxProcesses = 80 };

        await engine.Lxc.UpdateLimitsAsync(new UpdateLimitsOptions(spec.Id, bigger));

        var m = (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Metrics.ShouldNotBeNull();
        m.MemoryLimitBytes.ShouldBe(192L << 20, "memory changes live");
        // Disk growth is online where the kernel allows it, otherwise at the next start.
        await engine.Lxc.RestartAsync(new RestartOptions(spec.Id, TimeSpan.FromSeconds(5)));
        m = (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Metrics.ShouldNotBeNull();
        m.MemoryLimitBytes.ShouldBe(192L << 20, "and stays after a restart");
        m.DiskTotalBytes.ShouldBeGreaterThan(400L << 20);
        var meminfo = await engine.ExecAsync(spec.Id, "grep", "MemTotal", "/proc/meminfo");
        meminfo.ShouldContain((192 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var shrink = await Should.ThrowAsync<EngineException>(() => engine.Lxc.UpdateLimitsAsync(new UpdateLimitsOptions(spec.Id, bigger with { DiskBytes = 256L << 20 })));
        shrink.Field.ShouldBe("Limits.DiskBytes");
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task Console_ShowsALoginPrompt_AndAfterSigningInRunsCommands()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync(engine.NewSpec(hostname: "console-box", access: new GuestAccess("C0nsole-pass", [])));
        await using var console = new ConsoleReader(await engine.Lxc.OpenConsoleAsync(new ConsoleOptions(spec.Id, 100, 30)));

        await console.TypeAsync("\r");
        var at = await console.WaitForAsync("login:");
        await console.TypeAsync("root\r");
        at = await console.WaitForAsync("Password:", at);
        await console.TypeAsync("C0nsole-pass\r");
        await Task.Delay(500, TestContext.Current.CancellationToken);
        // Only a shell that really runs the line turns this into "H=console-box" (the echo of the typed line does not).
        await console.TypeAsync("echo H=$(hostname)\r");

        await console.WaitForAsync("H=console-box", at);
        console.Text.ShouldNotContain("Login incorrect");
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task EngineRestart_FindsRunningGuestsAgain_WithTheirMetrics()
    {
        engine.RequireEngine();
        var spec = await engine.RunningAsync();
        var pid = (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).InitPid!.Value;
        // The guest is not a descendant of this (engine) process: it survives the process's death.
        AncestorsOf(pid).ShouldNotContain(Environment.ProcessId);

        // A new engine instance knows nothing but what is on the host.
        var fresh = new Panel.Hypervisor.Drivers.Lxc.LxcDriver(engine.Options);
        var recovered = await fresh.RecoverAsync(new RecoverOptions());

        var state = recovered.Single(s => s.Id == spec.Id);
        state.Status.ShouldBe(InstanceStatus.Running);
        state.InitPid.ShouldBe(pid);
        state.Metrics.ShouldNotBeNull().MemoryBytes.ShouldBeGreaterThan(0);
        (await fresh.ExecAsync(new ExecOptions(spec.Id, ["hostname"]))).StdOut.Trim().ShouldBe(spec.Hostname);
        await fresh.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task EngineProcess_KilledWithSigkill_AndStartedAgain_FindsItsGuestsRunning()
    {
        engine.RequireEngine();
        var spec = engine.NewSpec(hostname: "survivor");

        using (var agent = EngineAgent.Start(engine.Options, "run", System.Text.Json.JsonSerializer.Serialize(spec)))
        {
            var line = await agent.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            if (line != "ready")
            {
                agent.Kill();
                Assert.Fail($"the engine agent did not start the guest: {line} {await agent.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken)}");
            }

            agent.Kill(entireProcessTree: false); // SIGKILL: no cleanup of any kind
            await agent.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        using var again = EngineAgent.Start(engine.Options, "recover");
        var stderr = again.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var json = await again.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await again.WaitForExitAsync(TestContext.Current.CancellationToken);
        again.ExitCode.ShouldBe(0, await stderr);

        var states = System.Text.Json.JsonSerializer.Deserialize<List<InstanceState>>(json)!;
        var state = states.Single(s => s.Id == spec.Id);
        state.Status.ShouldBe(InstanceStatus.Running);
        state.Metrics.ShouldNotBeNull().MemoryBytes.ShouldBeGreaterThan(0);
        state.Metrics.MemoryLimitBytes.ShouldBe(spec.Limits.MemoryBytes);
        (await engine.ExecAsync(spec.Id, "hostname")).ShouldBe("survivor");
        (await new AntiSpoofRules(engine.Options.NftTable, Panel.Hypervisor.Processes.ProcessRunner.Instance).HasRulesAsync(PortName.For(spec.Id))).ShouldBeTrue();
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    private async Task ShouldLeaveNothingAsync(InstanceSpec spec)
    {
        var dir = Path.Combine(engine.Options.InstancesDirectory, spec.Id);
        Directory.Exists(dir).ShouldBeFalse("the instance folder is gone");
        MountTable.MountsUnder(dir).ShouldBeEmpty();
        var port = PortName.For(spec.Id);
        Directory.Exists($"/sys/class/net/{port}").ShouldBeFalse("the veth is gone");
        (await new AntiSpoofRules(engine.Options.NftTable, Panel.Hypervisor.Processes.ProcessRunner.Instance).HasRulesAsync(port)).ShouldBeFalse();
        Directory.EnumerateDirectories("/sys/fs/cgroup", "*", SearchOption.TopDirectoryOnly)
            .SelectMany(c => Directory.Exists(c) ? Directory.EnumerateDirectories(c) : [])
            .Where(d => d.EndsWith("." + spec.Id, StringComparison.Ordinal))
            .ShouldBeEmpty("no cgroup of the VPS is left");
        var loops = await Panel.Hypervisor.Processes.ProcessRunner.Instance.RunAsync("losetup", ["-a"]);
        loops.StdOut.ShouldNotContain(dir);
        (await Panel.Hypervisor.Processes.ProcessRunner.Instance.RunAsync("lxc-ls", ["-P", engine.Options.InstancesDirectory])).StdOut.ShouldNotContain(spec.Id);
    }

    private static List<int> AncestorsOf(int pid)
    {
        var list = new List<int>();
        while (pid > 1)
        {
            var status = File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("PPid:", StringComparison.Ordinal));
            pid = int.Parse(status[5..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            list.Add(pid);
        }

        return list;
    }
}
