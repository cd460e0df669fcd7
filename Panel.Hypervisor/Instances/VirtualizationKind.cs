namespace Panel.Hypervisor.Instances;

/// <summary>The three approaches to server virtualization the engine offers.</summary>
public enum VirtualizationKind
{
    /// <summary>OS-level: a system container sharing the host kernel (LXC).</summary>
    Container,

    /// <summary>Para-virtual: a ported guest kernel running as host processes (User-Mode Linux).</summary>
    ParaVirtual,

    /// <summary>Full virtual machine: an unmodified guest on emulated hardware (QEMU, KVM or TCG).</summary>
    FullVm,
}
