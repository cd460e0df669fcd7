using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Hypervisor;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Uml;

/// <summary>
/// Two UML VPSes A and B on one host: whatever A does, B does not notice, and A stays inside its
/// plan. One pair (real guest kernels, booted side by side) serves the whole class: every test
/// first checks both answer, and leaves A as it found it (the fork bomb and restart tests reboot
/// it, the disk test removes its files, the spoofing test puts A's own address and MAC back).
/// </summary>
[Collection(EngineCollection.Name)]
public sealed partial class UmlIsolationTests(EngineFixture engine, UmlIsolationTests.Pair pair) : IClassFixture<UmlIsolationTests.Pair>
{
    private InstanceSpec a = default!;
    private InstanceSpec b = default!;

    /// <summary>The shared pair: made by the first test that needs it, deleted after the class.</summary>
    public sealed class Pair : IAsyncDisposable
    {
        private EngineFixture? engine;

        public InstanceSpec? A { get; private set; }

        public InstanceSpec? B { get; private set; }

        public async Task<(InstanceSpec A, InstanceSpec B)> GetAsync(EngineFixture fixture)
        {
            if (A is null || B is null)
            {
                engine = fixture;
                // Small plans: the memory hog reaches 64 MiB and the disk fill 128 MiB quickly.
                var limits = new InstanceLimits(Vcpus: 1, MemoryBytes: 64L << 20, DiskBytes: 128L << 20, MaxProcesses: 64);
                A = fixture.NewSpec(hostname: "uml-a", limits: limits);
                B = fixture.NewSpec(hostname: "uml-b", limits: limits);
                await Task.WhenAll(fixture.RunningUmlAsync(A), fixture.RunningUmlAsync(B));
            }

            foreach (var spec in new[] { A, B })
            {
                // A test that failed half-way may have left a guest unable to answer: boot it again.
                bool ok;
                try
                {
                    ok = (await fixture.Uml.ExecAsync(new ExecOptions(spec.Id, ["true"], TimeSpan.FromSeconds(5)))).ExitCode == 0;
                }
                catch (EngineException)
                {
                    ok = false;
                }

                if (!ok)
                {
                    await fixture.Uml.RestartAsync(new RestartOptions(spec.Id, TimeSpan.Zero));
                }
            }

            return (A, B);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var spec in new[] { A, B })
            {
                if (engine is not null && spec is not null)
                {
                    await engine.Uml.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
                }
            }
        }
    }

    private async Task PairAsync()
    {
        engine.RequireUml();
        (a, b) = await pair.GetAsync(engine);
    }

    [Fact]
    public async Task ForkBombInA_StopsAtItsProcessLimit_WhileBStillAnswersWithinTwoSeconds()
    {
        await PairAsync();
        await engine.Uml.ExecAsync(new ExecOptions(a.Id, ["sh", "-c", "setsid sh -c 'while :; do sleep 60 & done' </dev/null >/dev/null 2>&1 &"], TimeSpan.FromSeconds(10)));
        await Task.Delay(3000, TestContext.Current.CancellationToken);

        var sw = Stopwatch.StartNew();
        (await engine.UmlExecAsync(b.Id, "echo", "still here")).ShouldBe("still here");
        // Two seconds, not one as for containers: UML's exec is a console line through B's own kernel,
        // and this machine has two CPUs for both guests (1.13 s was seen once under CI load).
        sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(2));

        var m = (await engine.Uml.GetStateAsync(new StateOptions(a.Id))).Metrics.ShouldNotBeNull();
        m.Processes.ShouldBeLessThanOrEqualTo(a.Limits.MaxProcesses);
        m.Processes.ShouldBeGreaterThanOrEqualTo(a.Limits.MaxProcesses - 4, "the bomb really ran into the limit");
        (await engine.Uml.GetStateAsync(new StateOptions(a.Id))).Status.ShouldBe(InstanceStatus.Running, "the guest kernel survives");
        await engine.Uml.RestartAsync(new RestartOptions(a.Id, TimeSpan.Zero)); // A's process table is full: start it afresh
    }

    [Fact]
    public async Task MemoryHogInA_IsKilledInsideItsLimit_AndBKeepsRunning()
    {
        await PairAsync();
        var hog = await engine.Uml.ExecAsync(new ExecOptions(a.Id, ["awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }"], TimeSpan.FromSeconds(60)));

        hog.ExitCode.ShouldNotBe(0, "the hog was killed");
        var stateA = await engine.Uml.GetStateAsync(new StateOptions(a.Id));
        stateA.Status.ShouldBe(InstanceStatus.Running, "only the hog died, not A");
        // The guest's RAM is its plan: what the host gives it never passes the plan and the kernel's own share.
        stateA.Metrics!.MemoryBytes.ShouldBeLessThanOrEqualTo(a.Limits.MemoryBytes + (64L << 20));
        (await engine.UmlExecAsync(b.Id, "echo", "fine")).ShouldBe("fine");
        (await engine.UmlExecAsync(a.Id, "echo", "fine")).ShouldBe("fine");
    }

    [Fact]
    public async Task FillingADisk_StopsAtItsQuota_AndBCanStillWrite()
    {
        await PairAsync();
        var fill = await engine.Uml.ExecAsync(new ExecOptions(a.Id, ["dd", "if=/dev/zero", "of=/root/fill", "bs=1M", "count=1024"], TimeSpan.FromSeconds(120)));

        fill.ExitCode.ShouldNotBe(0);
        fill.StdErr.ShouldContain("No space left on device");
        await engine.UmlExecAsync(a.Id, "sync");
        var m = (await engine.Uml.GetStateAsync(new StateOptions(a.Id))).Metrics.ShouldNotBeNull();
        m.DiskTotalBytes.ShouldBe(a.Limits.DiskBytes);
        m.DiskUsedBytes.ShouldBeLessThanOrEqualTo(a.Limits.DiskBytes + (1L << 20), "the host-side file never outgrows the plan");
        m.DiskUsedBytes.ShouldBeGreaterThan(a.Limits.DiskBytes / 2, "the data really went to A's disk");
        (await engine.Uml.ExecAsync(new ExecOptions(b.Id, ["dd", "if=/dev/zero", "of=/root/ok", "bs=1M", "count=20"]))).ExitCode.ShouldBe(0);
        await engine.UmlExecAsync(a.Id, "rm", "/root/fill");
        await engine.UmlExecAsync(b.Id, "rm", "/root/ok");
    }

    [Fact]
    public async Task GuestA_CannotSendWithBsAddressOrMac()
    {
        await PairAsync();
        var gateway = engine.Network.Gateway.ToString();
        var prefix = engine.Network.Subnet.PrefixLength.ToString(CultureInfo.InvariantCulture);
        (await Ping(a.Id, gateway)).ShouldBeTrue("A reaches the gateway with its own address");
        var dropsBefore = await DropCountAsync(a.Id);

        await engine.UmlExecAsync(a.Id, "sh", "-c", $"ip addr flush dev eth0 && ip addr add {b.Network.IPv4}/{prefix} dev eth0 && ip route add default via {gateway}");
        (await Ping(a.Id, gateway, expectReply: false)).ShouldBeFalse("frames with B's IP are dropped");

        await engine.UmlExecAsync(a.Id, "sh", "-c",
            $"ip addr flush dev eth0 && ip link set eth0 down && ip link set eth0 address {b.Network.MacAddress} && ip link set eth0 up && ip addr add {a.Network.IPv4}/{prefix} dev eth0 && ip route add default via {gateway}");
        (await Ping(a.Id, gateway, expectReply: false)).ShouldBeFalse("frames with B's MAC are dropped");

        (await DropCountAsync(a.Id)).ShouldBeGreaterThan(dropsBefore, "the anti-spoofing rules did the dropping");
        (await Ping(b.Id, gateway)).ShouldBeTrue("B is unaffected");

        await engine.UmlExecAsync(a.Id, "sh", "-c",
            $"ip addr flush dev eth0 && ip link set eth0 down && ip link set eth0 address {a.Network.MacAddress} && ip link set eth0 up && ip addr add {a.Network.IPv4}/{prefix} dev eth0 && ip route add default via {gateway}");
        (await Ping(a.Id, gateway)).ShouldBeTrue("A with its own address and MAC again reaches the gateway");
    }

    [Fact]
    public async Task RestartingA_LeavesBsKernelAndUptimeUntouched()
    {
        await PairAsync();
        var bPid = (await engine.Uml.GetStateAsync(new StateOptions(b.Id))).InitPid;
        var bUptimeBefore = ParseUptime(await engine.UmlExecAsync(b.Id, "cat", "/proc/uptime"));

        await engine.Uml.RestartAsync(new RestartOptions(a.Id, TimeSpan.Zero)); // not a test of the graceful stop

        (await engine.Uml.GetStateAsync(new StateOptions(b.Id))).InitPid.ShouldBe(bPid);
        var bUptimeAfter = ParseUptime(await engine.UmlExecAsync(b.Id, "cat", "/proc/uptime"));
        bUptimeAfter.ShouldBeGreaterThan(bUptimeBefore);
        ParseUptime(await engine.UmlExecAsync(a.Id, "cat", "/proc/uptime")).ShouldBeLessThan(bUptimeAfter, "A's uptime began again");
        (await engine.UmlExecAsync(a.Id, "hostname")).ShouldBe("uml-a");
    }

    /// <summary>One echo request; a reply is awaited 2 s, or 1 s where none is expected (a dropped frame never answers).</summary>
    private async Task<bool> Ping(string id, string target, bool expectReply = true)
        => (await engine.Uml.ExecAsync(new ExecOptions(id, ["ping", "-c", "1", "-W", expectReply ? "2" : "1", target], TimeSpan.FromSeconds(15)))).ExitCode == 0;

    private async Task<long> DropCountAsync(string id)
    {
        var r = await ProcessRunner.Instance.RunAsync("nft", ["list", "chain", "bridge", engine.Options.NftTable, "g_" + PortName.For(id)]);
        return PacketCounter().Matches(r.StdOut).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static double ParseUptime(string text) => double.Parse(text.Split(' ')[0], CultureInfo.InvariantCulture);

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex PacketCounter();
}
