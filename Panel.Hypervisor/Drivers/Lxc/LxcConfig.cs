using System.Globalization;
using System.Text;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Instances;

namespace Panel.Hypervisor.Drivers.Lxc;

/// <summary>Builds an LXC configuration file for an instance: namespaces, rootfs, network, cgroup limits, lxcfs masking.</summary>
public static class LxcConfig
{
    /// <summary>The config text.</summary>
    public static string Build(InstanceSpec spec, string rootFs, string instanceDir, string bridge, string gateway, string? gateway6, CgroupMode mode, int hostCpus)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var sb = new StringBuilder();
        void L(FormattableString line) => sb.AppendLine(line.ToString(CultureInfo.InvariantCulture));

        sb.AppendLine("# Written by VpsPanel's engine; changes are overwritten.");
        // Debian's common config: capability drops, device allow-list, seccomp, and the lxcfs hooks
        // that mask /proc/meminfo, /proc/cpuinfo, /proc/uptime... with the container's own figures.
        L($"lxc.include = /usr/share/lxc/config/common.conf");
        L($"lxc.uts.name = {spec.Hostname}");
        L($"lxc.rootfs.path = dir:{rootFs}");
        L($"lxc.init.cmd = /sbin/init");
        L($"lxc.apparmor.profile = unconfined");
        sb.AppendLine("lxc.mount.auto =");
        L($"lxc.mount.auto = proc:mixed sys:ro cgroup:mixed");
        L($"lxc.tty.max = 0");
        L($"lxc.console.logfile = {Path.Combine(instanceDir, "console.log")}");
        L($"lxc.console.size = 1MB");
        L($"lxc.console.buffer.size = 128kB");

        var port = Network.PortName.For(spec.Id);
        L($"lxc.net.0.type = veth");
        L($"lxc.net.0.link = {bridge}");
        L($"lxc.net.0.flags = up");
        L($"lxc.net.0.name = eth0");
        L($"lxc.net.0.hwaddr = {spec.Network.MacAddress.ToLowerInvariant()}");
        L($"lxc.net.0.veth.pair = {port}");
        L($"lxc.net.0.ipv4.address = {spec.Network.IPv4}/{PrefixOf(gateway)}");
        L($"lxc.net.0.ipv4.gateway = {gateway.Split('/')[0]}");
        if (spec.Network.IPv6 is { } ip6 && gateway6 is not null)
        {
            L($"lxc.net.0.ipv6.address = {ip6}/{PrefixOf(gateway6)}");
            L($"lxc.net.0.ipv6.gateway = {gateway6.Split('/')[0]}");
        }

        foreach (var (key, value) in CgroupLimits(spec.Id, spec.Limits, mode, hostCpus))
        {
            L($"{(mode == CgroupMode.V2 ? "lxc.cgroup2." : "lxc.cgroup.")}{key} = {value}");
        }

        return sb.ToString();
    }

    /// <summary>The cgroup settings (controller file, value) for limits, in the host's cgroup dialect.</summary>
    public static IReadOnlyList<(string Key, string Value)> CgroupLimits(string id, InstanceLimits limits, CgroupMode mode, int hostCpus)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var cpus = CpuSet(id, limits.Vcpus, hostCpus);
        var quota = (limits.Vcpus * 100_000L).ToString(CultureInfo.InvariantCulture);
        var mem = limits.MemoryBytes.ToString(CultureInfo.InvariantCulture);
        var pids = limits.MaxProcesses.ToString(CultureInfo.InvariantCulture);
        if (mode == CgroupMode.V2)
        {
            return
            [
                ("memory.max", mem),
                ("memory.swap.max", "0"),
                ("pids.max", pids),
                ("cpu.max", $"{quota} 100000"),
                ("cpu.weight", limits.CpuWeight.ToString(CultureInfo.InvariantCulture)),
                ("cpuset.cpus", cpus),
            ];
        }

        return
        [
            ("memory.limit_in_bytes", mem),
            ("pids.max", pids),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", quota),
            ("cpu.shares", Math.Max(2, limits.CpuWeight * 1024 / 100).ToString(CultureInfo.InvariantCulture)),
            ("cpuset.cpus", cpus),
        ];
    }

    /// <summary>
    /// The host CPUs an instance may run on: <c>vcpus</c> consecutive CPUs starting at a place that
    /// depends on the id, so instances spread over the host. This is also what <c>nproc</c> shows inside.
    /// </summary>
    public static string CpuSet(string id, int vcpus, int hostCpus)
    {
        var n = Math.Clamp(vcpus, 1, Math.Max(1, hostCpus));
        var start = (int)((uint)StableHash(id) % (uint)Math.Max(1, hostCpus));
        var list = Enumerable.Range(0, n).Select(i => (start + i) % hostCpus).Order();
        return string.Join(',', list);
    }

    private static int StableHash(string s)
    {
        unchecked
        {
            var h = 23;
            foreach (var c in s)
            {
                h = (h * 31) + c;
            }

            return h;
        }
    }

    private static string PrefixOf(string cidr) => cidr.Split('/')[1];
}
