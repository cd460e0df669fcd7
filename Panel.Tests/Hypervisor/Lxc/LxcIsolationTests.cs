using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Lxc;

/// <summary>
/// Two container VPSes A and B on one host: whatever A does, B does not notice, and A sees
/// its own limits, not the host's. Each test starts a fresh pair and deletes it.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed partial class LxcIsolationTests(EngineFixture engine) : IAsyncLifetime
{
    private InstanceSpec a = default!;
    private InstanceSpec b = default!;

    public async ValueTask InitializeAsync()
    {
        if (engine.Unavailable is not null)
        {
            return;
        }

        a = await engine.RunningAsync(engine.NewSpec(hostname: "tenant-a"));
        b = await engine.RunningAsync(engine.NewSpec(hostname: "tenant-b"));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var spec in new[] { a, b }.Where(s => s is not null))
        {
            await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
        }
    }

    [Fact]
    public async Task EachGuest_SeesOnlyItsOwnProcessesHostnameCpusMemoryAndUptime()
    {
        engine.RequireEngine();
        await engine.ExecAsync(b.Id, "sh", "-c", "sleep 4242 >/dev/null 2>&1 &");

        (await engine.ExecAsync(a.Id, "hostname")).ShouldBe("tenant-a");
        (await engine.ExecAsync(b.Id, "ps")).ShouldContain("sleep 4242");
        (await engine.ExecAsync(a.Id, "ps")).ShouldNotContain("sleep 4242");
        (await engine.ExecAsync(a.Id, "cat", "/proc/1/comm")).ShouldBe("init", "A has its own PID namespace");

        (await engine.ExecAsync(a.Id, "nproc")).ShouldBe(a.Limits.Vcpus.ToString(CultureInfo.InvariantCulture));
        (await engine.ExecAsync(a.Id, "sh", "-c", "grep -c ^processor /proc/cpuinfo")).ShouldBe(a.Limits.Vcpus.ToString(CultureInfo.InvariantCulture));
        var memTotal = await engine.ExecAsync(a.Id, "sh", "-c", "grep MemTotal /proc/meminfo");
        memTotal.ShouldContain((a.Limits.MemoryBytes / 1024).ToString(CultureInfo.InvariantCulture));

        var guestUptime = ParseUptime(await engine.ExecAsync(a.Id, "cat", "/proc/uptime"));
        var hostUptime = ParseUptime(await File.ReadAllTextAsync("/proc/uptime", TestContext.Current.CancellationToken));
        guestUptime.ShouldBeLessThan(60, "A booted moments ago");
        guestUptime.ShouldBeLessThan(hostUptime);
    }

    [Fact]
    public async Task ForkBombInA_StopsAtItsProcessLimit_WhileBStillAnswersWithinASecond()
    {
        engine.RequireEngine();
        // A process flood that keeps forking for as long as it can (a classic bomb collapses as soon as it hits the wall).
        await engine.Lxc.ExecAsync(new ExecOptions(a.Id, ["sh", "-c", "setsid sh -c 'while :; do sleep 60 & done' </dev/null >/dev/null 2>&1 &"], TimeSpan.FromSeconds(10)));
        await Task.Delay(1500, TestContext.Current.CancellationToken);

        var sw = Stopwatch.StartNew();
        (await engine.ExecAsync(b.Id, "echo", "still here")).ShouldBe("still here");
        sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(1));

        var m = (await engine.Lxc.GetStateAsync(new StateOptions(a.Id))).Metrics.ShouldNotBeNull();
        m.Processes.ShouldBeLessThanOrEqualTo(a.Limits.MaxProcesses);
        m.Processes.ShouldBeGreaterThanOrEqualTo(a.Limits.MaxProcesses - 2, "the bomb really ran into the limit");
    }

    [Fact]
    public async Task MemoryHogInA_IsKilledInsideItsLimit_AndBKeepsRunning()
    {
        engine.RequireEngine();
        var hog = await engine.Lxc.ExecAsync(new ExecOptions(a.Id, ["awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }"], TimeSpan.FromSeconds(60)));

        hog.ExitCode.ShouldNotBe(0, "the hog was killed");
        var stateA = await engine.Lxc.GetStateAsync(new StateOptions(a.Id));
        stateA.Status.ShouldBe(InstanceStatus.Running, "only the hog died, not A");
        stateA.Metrics!.MemoryBytes.ShouldBeLessThanOrEqualTo(a.Limits.MemoryBytes);
        (await engine.ExecAsync(b.Id, "echo", "fine")).ShouldBe("fine");
        (await engine.ExecAsync(a.Id, "echo", "fine")).ShouldBe("fine");
    }

    [Fact]
    public async Task FillingADisk_StopsAtItsQuota_AndBCanStillWrite()
    {
        engine.RequireEngine();
        var fill = await engine.Lxc.ExecAsync(new ExecOptions(a.Id, ["dd", "if=/dev/zero", "of=/root/fill", "bs=1M", "count=1024"], TimeSpan.FromSeconds(120)));

        fill.ExitCode.ShouldNotBe(0);
        fill.StdErr.ShouldContain("No space left on device");
        var m = (await engine.Lxc.GetStateAsync(new StateOptions(a.Id))).Metrics.ShouldNotBeNull();
        m.DiskUsedBytes.ShouldBeLessThanOrEqualTo(a.Limits.DiskBytes);
        m.DiskUsedBytes.ShouldBeGreaterThan(m.DiskTotalBytes * 9 / 10);
        (await engine.Lxc.ExecAsync(new ExecOptions(b.Id, ["dd", "if=/dev/zero", "of=/root/ok", "bs=1M", "count=20"]))).ExitCode.ShouldBe(0);
    }

    [Fact]
    public async Task GuestA_CannotSendWithBsAddressOrMac()
    {
        engine.RequireEngine();
        var gateway = engine.Network.Gateway.ToString();
        var prefix = engine.Network.Subnet.PrefixLength.ToString(CultureInfo.InvariantCulture);
        (await Ping(a.Id, gateway)).ShouldBeTrue("A reaches the gateway with its own address");
        var dropsBefore = await DropCountAsync(a.Id);

        // A takes B's IP address.
        await engine.ExecAsync(a.Id, "sh", "-c", $"ip addr flush dev eth0 && ip addr add {b.Network.IPv4}/{prefix} dev eth0 && ip route add default via {gateway}");
        (await Ping(a.Id, gateway)).ShouldBeFalse("frames with B's IP are dropped");

        // A keeps its IP but takes B's MAC.
        await engine.ExecAsync(a.Id, "sh", "-c",
            $"ip addr flush dev eth0 && ip link set eth0 down && ip link set eth0 address {b.Network.MacAddress} && ip link set eth0 up && ip addr add {a.Network.IPv4}/{prefix} dev eth0 && ip route add default via {gateway}");
        (await Ping(a.Id, gateway)).ShouldBeFalse("frames with B's MAC are dropped");

        (await DropCountAsync(a.Id)).ShouldBeGreaterThan(dropsBefore, "the anti-spoofing rules did the dropping");
        (await Ping(b.Id, gateway)).ShouldBeTrue("B is unaffected");
    }

    [Fact]
    public async Task AGuestPortWithoutItsRules_IsCutOff_UntilTheEngineReappliesThem()
    {
        engine.RequireEngine();
        var gateway = engine.Network.Gateway.ToString();
        await new AntiSpoofRules(engine.Options.NftTable, ProcessRunner.Instance).RemoveAsync(PortName.For(a.Id));

        (await Ping(a.Id, gateway)).ShouldBeFalse("deny by default: a port with no chain sends nothing");

        await new Panel.Hypervisor.Drivers.Lxc.LxcDriver(engine.Options).RecoverAsync(new RecoverOptions());
        (await Ping(a.Id, gateway)).ShouldBeTrue("recovery re-applies the port's rules");
    }

    [Fact]
    public async Task RestartingA_LeavesBsUptimeAndInitUntouched()
    {
        engine.RequireEngine();
        var bInit = (await engine.Lxc.GetStateAsync(new StateOptions(b.Id))).InitPid;
        await Task.Delay(1200, TestContext.Current.CancellationToken);
        var bUptimeBefore = ParseUptime(await engine.ExecAsync(b.Id, "cat", "/proc/uptime"));

        await engine.Lxc.RestartAsync(new RestartOptions(a.Id, TimeSpan.FromSeconds(5)));

        (await engine.Lxc.GetStateAsync(new StateOptions(b.Id))).InitPid.ShouldBe(bInit);
        var bUptimeAfter = ParseUptime(await engine.ExecAsync(b.Id, "cat", "/proc/uptime"));
        bUptimeAfter.ShouldBeGreaterThanOrEqualTo(bUptimeBefore);
        ParseUptime(await engine.ExecAsync(a.Id, "cat", "/proc/uptime")).ShouldBeLessThan(bUptimeAfter, "A's uptime began again");
    }

    [Fact]
    public async Task DebianGuest_FreeUptimeAndNproc_ShowTheVpsNotTheHost()
    {
        engine.RequireEngine();
        engine.RequireImage("debian-12");
        var spec = engine.NewSpec(image: "debian-12", limits: new InstanceLimits(Vcpus: 1, MemoryBytes: 256L << 20, DiskBytes: 1L << 30, MaxProcesses: 256), hostname: "deb1");
        await engine.RunningAsync(spec);
        try
        {
            (await engine.ExecAsync(spec.Id, "hostname")).ShouldBe("deb1");
            (await engine.ExecAsync(spec.Id, "nproc")).ShouldBe("1");
            var free = await engine.ExecAsync(spec.Id, "free", "-k");
            free.ShouldContain((256 * 1024).ToString(CultureInfo.InvariantCulture), customMessage: free);
            var uptime = await engine.ExecAsync(spec.Id, "cat", "/proc/uptime");
            ParseUptime(uptime).ShouldBeLessThan(120);
            (await engine.ExecAsync(spec.Id, "uptime")).ShouldContain("up");
            (await engine.ExecAsync(spec.Id, "cat", "/proc/1/comm")).ShouldBe("init");
        }
        finally
        {
            await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
        }
    }

    private async Task<bool> Ping(string id, string target)
        => (await engine.Lxc.ExecAsync(new ExecOptions(id, ["ping", "-c", "2", "-W", "1", target], TimeSpan.FromSeconds(15)))).ExitCode == 0;

    private async Task<long> DropCountAsync(string id)
    {
        var r = await ProcessRunner.Instance.RunAsync("nft", ["list", "chain", "bridge", engine.Options.NftTable, "g_" + PortName.For(id)]);
        return PacketCounter().Matches(r.StdOut).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static double ParseUptime(string text) => double.Parse(text.Split(' ')[0], CultureInfo.InvariantCulture);

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex PacketCounter();
}
