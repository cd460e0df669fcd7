using Panel.Hypervisor.Host;

namespace Panel.Tests.Hypervisor;

public sealed class HostProbeTests
{
    [Fact]
    public void DetectCgroupMode_ReportsHybrid_WhenV1ControllersAndUnifiedMountCoexist()
    {
        const string mounts = """
            tmpfs /sys/fs/cgroup tmpfs rw 0 0
            cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0
            cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0
            """;
        HostProbe.DetectCgroupMode(mounts).ShouldBe(CgroupMode.Hybrid);
    }

    [Fact]
    public void DetectCgroupMode_ReportsV2_WhenUnifiedHierarchyIsAtRoot()
        => HostProbe.DetectCgroupMode("cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0").ShouldBe(CgroupMode.V2);

    [Fact]
    public void DetectCgroupMode_ReportsV1_WhenOnlyControllerHierarchies()
        => HostProbe.DetectCgroupMode("cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0").ShouldBe(CgroupMode.V1);

    [Fact]
    public void DetectCgroupMode_ReportsNone_WhenNoCgroupFilesystem()
        => HostProbe.DetectCgroupMode("proc /proc proc rw 0 0").ShouldBe(CgroupMode.None);

    [Fact]
    public void ParseMemTotal_ConvertsKibibytesToBytes()
        => HostProbe.ParseMemTotal("MemTotal:       24576000 kB\nMemFree: 1 kB").ShouldBe(24576000L * 1024);

    [Fact]
    public void Read_ReturnsThisMachinesFacts()
    {
        var facts = HostProbe.Read();
        facts.CpuCount.ShouldBeGreaterThan(0);
        facts.MemoryBytes.ShouldBeGreaterThan(64L << 20);
        facts.KernelRelease.ShouldNotBeNullOrWhiteSpace();
        facts.CgroupMode.ShouldNotBe(CgroupMode.None, "every Linux host the panel supports mounts cgroups");
    }
}
