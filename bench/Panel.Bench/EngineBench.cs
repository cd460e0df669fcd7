using System.Diagnostics;
using System.Globalization;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;

namespace Panel.Bench;

/// <summary>
/// The LXC driver beside raw LXC, in one run on one machine: create+start to a running init,
/// start alone, stop, delete; and density (N idle busybox VPSes: memory and time per VPS).
/// Then the UML and QEMU drivers beside raw <c>linux</c>, <c>qemu-system-x86_64</c>, <c>qemu-img</c>
/// and <c>tar</c> (<see cref="VmBench"/>).
/// The raw peer starts the same busybox rootfs with an equivalent config (same limits, a veth
/// on the same bridge), without the panel's disk quota, anti-spoofing rules or shaping.
/// </summary>
public static class EngineBench
{
    /// <summary>Runs the suite.</summary>
    public static async Task<BenchReport> RunAsync(BenchOptions bench)
    {
        var suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
        var options = new EngineOptions
        {
            StateDirectory = Path.Combine(Path.GetTempPath(), "vpspanel-bench-" + suffix),
            ImagesDirectory = Path.Combine(Environment.GetEnvironmentVariable("PANEL_STATE_DIR") ?? "/var/lib/vpspanel", "images"),
            BridgeName = "vpsb" + suffix,
            BridgeCidr = "10.252.0.1/22",
            NftTable = "vpspanel_b" + suffix,
        };
        var runner = ProcessRunner.Instance;
        var lxc = new LxcDriver(options);
        var info = await lxc.ProbeAsync(new ProbeOptions());
        if (!info.Usable)
        {
            throw new InvalidOperationException("the LXC driver cannot run here: " + info.Reason);
        }

        var raw = new RawLxc(options, runner);
        var rows = new List<BenchRow>();
        var figures = new Dictionary<string, double>();
        var vmNotes = new List<string>();
        var vmMachine = new Dictionary<string, string>();
        var n = 0;
        InstanceSpec NewSpec()
        {
            n++;
            return new InstanceSpec(
                string.Create(CultureInfo.InvariantCulture, $"b{suffix}-{n}"),
                string.Create(CultureInfo.InvariantCulture, $"bench{n}"),
                "busybox",
                new InstanceLimits(1, 64L << 20, 128L << 20, 64),
                new NetworkSpec(string.Create(CultureInfo.InvariantCulture, $"02:00:0a:fc:{n / 256:x2}:{n % 256:x2}"),
                    string.Create(CultureInfo.InvariantCulture, $"10.252.{n / 250}.{(n % 250) + 2}")),
                GuestAccess.None);
        }

        try
        {
            // Warm-up: page cache, lxcfs, bridge and nftables table exist before timing.
            var warm = NewSpec();
            await lxc.CreateAsync(new CreateOptions(warm));
            await lxc.StartAsync(new StartOptions(warm.Id));
            await lxc.DeleteAsync(new DeleteOptions(warm.Id, Force: true));
            // The disk pool of the plan's size is warm, as it is on a node that serves that plan.
            await lxc.DiskPool.IdleAsync();
            await raw.PrepareAsync();
            await raw.StartAsync();
            await raw.StopAsync();

            var createStart = new List<double>();
            var startOnly = new List<double>();
            var stop = new List<double>();
            var delete = new List<double>();
            var rawStart = new List<double>();
            var rawStop = new List<double>();
            for (var i = 0; i < bench.Iterations; i++)
            {
                // Interleave panel and peer so both see the same machine noise.
                var spec = NewSpec();
                var sw = Stopwatch.StartNew();
                await lxc.CreateAsync(new CreateOptions(spec));
                await lxc.StartAsync(new StartOptions(spec.Id));
                createStart.Add(sw.Elapsed.TotalMilliseconds);
                await lxc.DiskPool.IdleAsync(); // refill outside the timed part, as between customer orders

                sw.Restart();
                await lxc.StopAsync(new StopOptions(spec.Id, TimeSpan.Zero));
                stop.Add(sw.Elapsed.TotalMilliseconds);

                sw.Restart();
                await lxc.StartAsync(new StartOptions(spec.Id));
                startOnly.Add(sw.Elapsed.TotalMilliseconds);

                sw.Restart();
                await lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
                delete.Add(sw.Elapsed.TotalMilliseconds);

                sw.Restart();
                await raw.StartAsync();
                rawStart.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart();
                await raw.StopAsync();
                rawStop.Add(sw.Elapsed.TotalMilliseconds);
            }

            rows.Add(new BenchRow("create+start to running init", "ms", Stats.Of(createStart), Stats.Of(rawStart), "raw lxc-start -d (returns at RUNNING)", 1.25));
            rows.Add(new BenchRow("start (created) to running init", "ms", Stats.Of(startOnly), Stats.Of(rawStart), "raw lxc-start -d (returns at RUNNING)", 1.25));
            rows.Add(new BenchRow("stop (force)", "ms", Stats.Of(stop), Stats.Of(rawStop), "raw lxc-stop -k", null));
            rows.Add(new BenchRow("delete (running, force)", "ms", Stats.Of(delete), null, null, null));

            // Density: N idle VPSes at once.
            var before = MemAvailable();
            var started = new List<string>();
            var total = Stopwatch.StartNew();
            for (var i = 0; i < bench.Density; i++)
            {
                var spec = NewSpec();
                await lxc.CreateAsync(new CreateOptions(spec));
                await lxc.StartAsync(new StartOptions(spec.Id));
                started.Add(spec.Id);
            }

            total.Stop();
            await Task.Delay(2000); // let the inits settle
            var after = MemAvailable();
            figures["density.instances"] = started.Count;
            figures["density.ms_per_vps"] = Math.Round(total.Elapsed.TotalMilliseconds / started.Count, 1);
            figures["density.host_mib_per_vps"] = Math.Round((before - after) / 1024.0 / 1024.0 / started.Count, 2);
            var sw2 = Stopwatch.StartNew();
            foreach (var id in started)
            {
                await lxc.DeleteAsync(new DeleteOptions(id, Force: true));
            }

            figures["density.delete_ms_per_vps"] = Math.Round(sw2.Elapsed.TotalMilliseconds / started.Count, 1);

            // UML and QEMU beside their raw runtimes, on the same bridge and table.
            await VmBench.RunAsync(bench, options, suffix, rows, vmNotes, vmMachine);
        }
        finally
        {
            foreach (var id in await lxc.ListAsync(new ListOptions()))
            {
                await lxc.DeleteAsync(new DeleteOptions(id, Force: true));
            }

            await raw.CleanupAsync();
            await new AntiSpoofRules(options.NftTable, runner).DeleteTableAsync();
            await new NodeBridge(options.BridgeName, lxc.Network, runner).DeleteAsync();
            await runner.RunAsync("rm", ["-rf", "--one-file-system", options.StateDirectory]);
        }

        var host = HostProbe.Read();
        var machine = new Dictionary<string, string>
        {
            ["cpus"] = host.CpuCount.ToString(CultureInfo.InvariantCulture),
            ["memory"] = $"{host.MemoryBytes >> 20} MiB",
            ["kernel"] = host.KernelRelease,
            ["cgroups"] = host.CgroupMode.ToString(),
            ["lxc"] = info.Version ?? "?",
        };
        foreach (var (k, v) in vmMachine)
        {
            machine[k] = v;
        }

        List<string> notes =
        [
            "panel create+start includes what raw LXC does not do: a disk of the plan's size (taken from the pool of pre-formatted disks, refilled in the background between creates), loop and overlay mounts, guest files, nftables anti-spoofing rules, tc shaping and state checks",
            "density memory is host MemAvailable before minus after, divided by the number of VPSes",
            .. vmNotes,
        ];
        return new BenchReport("engine", DateTime.UtcNow, machine, rows, figures, notes);
    }

    private static long MemAvailable()
    {
        var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The peer: one container started with LXC's tools only, same rootfs content, same limits.</summary>
    private sealed class RawLxc(EngineOptions options, IProcessRunner runner)
    {
        private string Dir => Path.Combine(options.StateDirectory, "raw");

        public async Task PrepareAsync()
        {
            var rootfs = Path.Combine(Dir, "peer", "rootfs");
            Directory.CreateDirectory(Path.GetDirectoryName(rootfs)!);
            (await runner.RunAsync("cp", ["-a", Path.Combine(options.ImagesDirectory, "busybox", "rootfs"), rootfs])).ThrowIfFailed();
            var mode = HostProbe.Read().CgroupMode;
            var limits = mode == CgroupMode.V2
                ? "lxc.cgroup2.memory.max = 67108864\nlxc.cgroup2.pids.max = 64\nlxc.cgroup2.cpu.max = 100000 100000\n"
                : "lxc.cgroup.memory.limit_in_bytes = 67108864\nlxc.cgroup.pids.max = 64\nlxc.cgroup.cpu.cfs_quota_us = 100000\nlxc.cgroup.cpu.cfs_period_us = 100000\n";
            var config = $"""
                lxc.include = /usr/share/lxc/config/common.conf
                lxc.uts.name = peer
                lxc.rootfs.path = dir:{rootfs}
                lxc.init.cmd = /sbin/init
                lxc.apparmor.profile = unconfined
                lxc.mount.auto =
                lxc.mount.auto = proc:mixed sys:ro cgroup:mixed
                lxc.tty.max = 0
                lxc.net.0.type = veth
                lxc.net.0.link = {options.BridgeName}
                lxc.net.0.flags = up
                lxc.net.0.hwaddr = 02:00:0a:fc:ff:fe
                lxc.net.0.ipv4.address = 10.252.3.250/22
                {limits}
                """;
            await File.WriteAllTextAsync(Path.Combine(Dir, "peer", "config"), config);
        }

        public async Task StartAsync()
        {
            // lxc-start -d itself waits until the monitor reports RUNNING.
            (await runner.RunAsync("lxc-start", ["-P", Dir, "-n", "peer", "-d"])).ThrowIfFailed();
        }

        public async Task StopAsync() => (await runner.RunAsync("lxc-stop", ["-P", Dir, "-n", "peer", "-k"])).ThrowIfFailed();

        public async Task CleanupAsync()
        {
            if (Directory.Exists(Dir))
            {
                await runner.RunAsync("lxc-stop", ["-P", Dir, "-n", "peer", "-k"]);
            }
        }
    }
}
