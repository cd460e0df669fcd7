namespace Panel.Hypervisor.Host;

/// <summary>What the engine needs to know about the physical host it runs on.</summary>
/// <param name="Hostname">The host's name.</param>
/// <param name="KernelRelease">The running kernel (<c>uname -r</c>).</param>
/// <param name="CpuCount">Logical CPUs online.</param>
/// <param name="MemoryBytes">Total physical memory.</param>
/// <param name="CgroupMode">How cgroups are mounted.</param>
/// <param name="KvmDevicePresent">Whether <c>/dev/kvm</c> exists. It does not mean KVM works: drivers probe with a bounded boot.</param>
public sealed record HostFacts(
    string Hostname,
    string KernelRelease,
    int CpuCount,
    long MemoryBytes,
    CgroupMode CgroupMode,
    bool KvmDevicePresent);
