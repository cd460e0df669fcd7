using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Lxc;

/// <summary>Container-only checks against real LXC (freeze, metrics, access); the lifecycle every driver shares, engine restarts included, is <c>LxcContractTests</c>.</summary>
[Collection(EngineCollection.Name)]
public sealed class LxcLifecycleTests(EngineFixture engine)
{
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
}
