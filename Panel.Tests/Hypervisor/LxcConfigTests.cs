using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Instances;

namespace Panel.Tests.Hypervisor;

public sealed class LxcConfigTests
{
    private static readonly InstanceSpec Spec = new(
        "vps-7", "web7", "busybox", new InstanceLimits(2, 256L << 20, 1L << 30, 100, 200),
        new NetworkSpec("02:00:0a:fa:00:07", "10.250.0.7", "fd00:250::7"), GuestAccess.None);

    [Fact]
    public void Build_OnV1Hosts_UsesV1ControllerFiles()
    {
        var config = LxcConfig.Build(Spec, "/r", "/d", "vpsbr0", "10.250.0.1/24", "fd00:250::1/64", CgroupMode.Hybrid, hostCpus: 4);

        config.ShouldContain("lxc.cgroup.memory.limit_in_bytes = 268435456");
        config.ShouldContain("lxc.cgroup.pids.max = 100");
        config.ShouldContain("lxc.cgroup.cpu.cfs_quota_us = 200000");
        config.ShouldContain("lxc.cgroup.cpu.shares = 2048");
        config.ShouldNotContain("lxc.cgroup2.");
        config.ShouldContain("lxc.net.0.ipv4.address = 10.250.0.7/24");
        config.ShouldContain("lxc.net.0.ipv4.gateway = 10.250.0.1");
        config.ShouldContain("lxc.net.0.ipv6.address = fd00:250::7/64");
        config.ShouldContain("lxc.include = /usr/share/lxc/config/common.conf");
    }

    [Fact]
    public void Build_OnV2Hosts_UsesUnifiedControllerFiles()
    {
        var config = LxcConfig.Build(Spec, "/r", "/d", "vpsbr0", "10.250.0.1/24", null, CgroupMode.V2, hostCpus: 4);

        config.ShouldContain("lxc.cgroup2.memory.max = 268435456");
        config.ShouldContain("lxc.cgroup2.memory.swap.max = 0");
        config.ShouldContain("lxc.cgroup2.cpu.max = 200000 100000");
        config.ShouldContain("lxc.cgroup2.cpu.weight = 200");
        config.ShouldContain("lxc.cgroup2.pids.max = 100");
        config.ShouldNotContain("lxc.cgroup.memory");
        config.ShouldNotContain("ipv6", Case.Insensitive);
    }

    [Theory]
    [InlineData(1, 4)]
    [InlineData(2, 4)]
    [InlineData(4, 4)]
    [InlineData(8, 4)]
    [InlineData(1, 1)]
    public void CpuSet_PicksVcpusDistinctHostCpus_CappedAtTheHost(int vcpus, int host)
    {
        var cpus = LxcConfig.CpuSet("vps-x", vcpus, host).Split(',').Select(int.Parse).ToList();
        cpus.Count.ShouldBe(Math.Min(vcpus, host));
        cpus.Distinct().Count().ShouldBe(cpus.Count);
        cpus.ShouldAllBe(c => c >= 0 && c < host);
    }
}
