using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Panel.Hypervisor.Drivers.Qemu;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Qemu;

/// <summary>
/// Two virtual machines A and B on one host: whatever A does, B does not notice, and A gets only
/// what its plan gives (RAM, CPUs, disk, its own address). The pair is shared by these tests (TCG
/// boots take seconds): each test puts A back as it found it.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed partial class QemuIsolationTests(EngineFixture engine) : IAsyncLifetime
{
    private InstanceSpec a = default!;
    private InstanceSpec b = default!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        if (engine.Unavailable is null && engine.QemuUnavailable is null)
        {
            (a, b) = await engine.VmPairAsync();
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task MemoryHogInA_IsKilledInsideItsRam_QemuStaysInItsCgroup_AndBKeepsRunning()
    {
        engine.RequireQemu();
        var memTotalKb = long.Parse(await engine.VmExecAsync(a.Id, "sh", "-c", "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2"), CultureInfo.InvariantCulture);
        memTotalKb.ShouldBeLessThanOrEqualTo(a.Limits.MemoryBytes / 1024, "the guest sees its plan's RAM, not the host's");

        var hog = await engine.Qemu.ExecAsync(new ExecOptions(a.Id, ["awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }"], TimeSpan.FromSeconds(60)), Ct);

        hog.ExitCode.ShouldNotBe(0, "the guest's kernel killed the hog");
        var stateA = await engine.Qemu.GetStateAsync(new StateOptions(a.Id), Ct);
        stateA.Status.ShouldBe(InstanceStatus.Running, "only the hog died, not A");
        stateA.Metrics.ShouldNotBeNull().MemoryBytes.ShouldBeLessThanOrEqualTo(a.Limits.MemoryBytes + QemuCgroup.Overhead(tcg: true));
        var limit = long.Parse(await File.ReadAllTextAsync($"/sys/fs/cgroup/memory/vpsqemu.{a.Id}/memory.limit_in_bytes", Ct), CultureInfo.InvariantCulture);
        limit.ShouldBe(a.Limits.MemoryBytes + QemuCgroup.Overhead(tcg: true), "QEMU (guest RAM and its own overhead) is capped on the host");
        (await engine.VmExecAsync(b.Id, "echo", "fine")).ShouldBe("fine");
        (await engine.VmExecAsync(a.Id, "echo", "fine")).ShouldBe("fine");
    }

    [Fact]
    public async Task ProcessFloodInA_StaysInsideA_WhileBStillAnswers_AndQemusTasksAndCpuAreCapped()
    {
        engine.RequireQemu();
        // 200 processes at once inside A (as many as its 128 MiB hold comfortably).
        await engine.Qemu.ExecAsync(new ExecOptions(a.Id, ["sh", "-c", "i=0; while [ $i -lt 200 ]; do sleep 60 </dev/null >/dev/null 2>&1 & i=$((i + 1)); done"], TimeSpan.FromSeconds(60)), Ct);

        var sw = Stopwatch.StartNew();
        (await engine.VmExecAsync(b.Id, "echo", "still here")).ShouldBe("still here");
        sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(2));
        var inA = int.Parse(await engine.VmExecAsync(a.Id, "sh", "-c", "ls -d /proc/[0-9]* | wc -l"), CultureInfo.InvariantCulture);
        inA.ShouldBeGreaterThan(200, "the processes run inside A's own kernel");
        int.Parse(await engine.VmExecAsync(b.Id, "sh", "-c", "ls -d /proc/[0-9]* | wc -l"), CultureInfo.InvariantCulture).ShouldBeLessThan(150, "B sees none of them");
        var hostTasks = int.Parse(await File.ReadAllTextAsync($"/sys/fs/cgroup/pids/vpsqemu.{a.Id}/pids.current", Ct), CultureInfo.InvariantCulture);
        hostTasks.ShouldBeLessThanOrEqualTo(QemuCgroup.TaskLimit(a.Limits.Vcpus), "on the host A is one QEMU with a capped number of threads");
        var quota = (await File.ReadAllTextAsync($"/sys/fs/cgroup/cpu/vpsqemu.{a.Id}/cpu.cfs_quota_us", Ct)).Trim();
        quota.ShouldBe("100000", "A's QEMU may use one CPU, however busy its guest is");
        await engine.VmExecAsync(a.Id, "sh", "-c", "killall sleep; true");
    }

    [Fact]
    public async Task FillingADisk_StopsAtItsPlanSize_AndBCanStillWrite()
    {
        engine.RequireQemu();
        var fill = await engine.Qemu.ExecAsync(new ExecOptions(a.Id, ["dd", "if=/dev/zero", "of=/root/fill", "bs=1M", "count=400"], TimeSpan.FromSeconds(120)), Ct);

        fill.ExitCode.ShouldNotBe(0);
        fill.StdErr.ShouldContain("No space left on device");
        var sizeKb = long.Parse(await engine.VmExecAsync(a.Id, "sh", "-c", "df -k / | tail -1 | tr -s ' ' | cut -d' ' -f2"), CultureInfo.InvariantCulture);
        sizeKb.ShouldBeLessThanOrEqualTo(a.Limits.DiskBytes / 1024, "the guest's filesystem is the plan's size");
        var m = (await engine.Qemu.GetStateAsync(new StateOptions(a.Id), Ct)).Metrics.ShouldNotBeNull();
        m.DiskUsedBytes.ShouldBeLessThanOrEqualTo(a.Limits.DiskBytes + (16L << 20), "the overlay on the host holds at most the plan's size (and qcow2 metadata)");
        m.DiskWriteBytes.ShouldBeGreaterThan(50L << 20);
        (await engine.Qemu.ExecAsync(new ExecOptions(b.Id, ["dd", "if=/dev/zero", "of=/root/ok", "bs=1M", "count=20"]), Ct)).ExitCode.ShouldBe(0);
        await engine.VmExecAsync(a.Id, "rm", "-f", "/root/fill");
        await engine.VmExecAsync(b.Id, "rm", "-f", "/root/ok");
    }

    [Fact]
    public async Task GuestA_CannotSendWithBsAddressOrMac()
    {
        engine.RequireQemu();
        var gateway = engine.Network.Gateway.ToString();
        var prefix = engine.Network.Subnet.PrefixLength.ToString(CultureInfo.InvariantCulture);
        (await Ping(a.Id, gateway)).ShouldBeTrue("A reaches the gateway with its own address");
        var dropsBefore = await DropCountAsync(a.Id);

        // A takes B's IP address.
        await engine.VmExecAsync(a.Id, "sh", "-c", $"ip addr flush dev eth0 && ip addr add {b.Network.IPv4}/{prefix} dev eth0 && ip route add default via {gateway}");
        (await Ping(a.Id, gateway)).ShouldBeFalse("frames with B's IP are dropped");

        // A keeps its IP but takes B's MAC.
        await engine.VmExecAsync(a.Id, "sh", "-c",
            $"ip addr flush dev eth0 && ip link set eth0 down && ip link set eth0 address {b.Network.MacAddress} && ip link set eth0 up && ip addr add {a.Network.IPv4}/{prefix} dev eth0 && ip route add default via {gateway}");
        (await Ping(a.Id, gateway)).ShouldBeFalse("frames with B's MAC are dropped");

        (await DropCountAsync(a.Id)).ShouldBeGreaterThan(dropsBefore, "the anti-spoofing rules did the dropping");
        (await Ping(b.Id, gateway)).ShouldBeTrue("B is unaffected");

        await engine.VmExecAsync(a.Id, "sh", "-c",
            $"ip addr flush dev eth0 && ip link set eth0 down && ip link set eth0 address {a.Network.MacAddress} && ip link set eth0 up && ip addr add {a.Network.IPv4}/{prefix} dev eth0 && ip route add default via {gateway}");
        (await Ping(a.Id, gateway)).ShouldBeTrue("A is back with its own address");
    }

    [Fact]
    public async Task RestartingA_LeavesBsQemuAndUptimeUntouched()
    {
        engine.RequireQemu();
        var bPid = (await engine.Qemu.GetStateAsync(new StateOptions(b.Id), Ct)).InitPid;
        var bUptimeBefore = ParseUptime(await engine.VmExecAsync(b.Id, "cat", "/proc/uptime"));

        await engine.Qemu.RestartAsync(new RestartOptions(a.Id, TimeSpan.FromSeconds(10)), Ct);

        (await engine.Qemu.GetStateAsync(new StateOptions(b.Id), Ct)).InitPid.ShouldBe(bPid);
        var bUptimeAfter = ParseUptime(await engine.VmExecAsync(b.Id, "cat", "/proc/uptime"));
        bUptimeAfter.ShouldBeGreaterThan(bUptimeBefore);
        ParseUptime(await engine.VmExecAsync(a.Id, "cat", "/proc/uptime")).ShouldBeLessThan(bUptimeAfter, "A's uptime began again");
        (await Ping(a.Id, engine.Network.Gateway.ToString())).ShouldBeTrue("A is back on the network");
    }

    private async Task<bool> Ping(string id, string target)
        => (await engine.Qemu.ExecAsync(new ExecOptions(id, ["ping", "-c", "2", "-W", "2", target], TimeSpan.FromSeconds(15)), Ct)).ExitCode == 0;

    private async Task<long> DropCountAsync(string id)
    {
        var r = await ProcessRunner.Instance.RunAsync("nft", ["list", "chain", "bridge", engine.Options.NftTable, "g_" + PortName.For(id)], cancellationToken: Ct);
        return PacketCounter().Matches(r.StdOut).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static double ParseUptime(string text) => double.Parse(text.Split(' ')[0], CultureInfo.InvariantCulture);

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex PacketCounter();
}
