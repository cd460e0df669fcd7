using Panel.Hypervisor.Instances;

namespace Panel.Core.Domain.Compute;

/// <summary>What a customer buys: an approach (container, para-virtual, full VM) and its resources.</summary>
public sealed class Plan
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>Unique display name, e.g. "Container S".</summary>
    public string Name { get; set; } = "";

    /// <summary>A line for the order page.</summary>
    public string? Description { get; set; }

    /// <summary>How the VPS is virtualized; decides the driver and which nodes can host it.</summary>
    public VirtualizationKind Approach { get; set; }

    /// <summary>Virtual CPUs.</summary>
    public int Vcpus { get; set; }

    /// <summary>Memory (bytes).</summary>
    public long MemoryBytes { get; set; }

    /// <summary>Disk size (bytes), a hard quota.</summary>
    public long DiskBytes { get; set; }

    /// <summary>Process limit inside the VPS.</summary>
    public int MaxProcesses { get; set; } = 512;

    /// <summary>Port speed cap in Mbit/s each way; null for none.</summary>
    public int? PortSpeedMbit { get; set; }

    /// <summary>Monthly traffic allowance (bytes); null for unmetered.</summary>
    public long? MonthlyBandwidthBytes { get; set; }

    /// <summary>
    /// The price of a whole billing period (installation currency), which is also the cap: a VPS never
    /// costs more than this per period for its hours. See <see cref="Billing.BillingRules"/>.
    /// </summary>
    public decimal MonthlyPrice { get; set; }

    /// <summary>The price of each started hour, until the hours of a period reach <see cref="MonthlyPrice"/>.</summary>
    public decimal HourlyPrice { get; set; }

    /// <summary>Charged once, on the invoice of the period in which a VPS on this plan started; 0 for none.</summary>
    public decimal SetupFee { get; set; }

    /// <summary>
    /// The price of each started GB (2^30 bytes, the unit of <see cref="MonthlyBandwidthBytes"/>) of
    /// traffic beyond the allowance in a period; null: traffic beyond it is not charged.
    /// </summary>
    public decimal? PricePerExtraGb { get; set; }

    /// <summary>
    /// Port speed (Mbit/s each way) a VPS drops to once its traffic in a billing period reaches
    /// <see cref="MonthlyBandwidthBytes"/>, until that period ends; null: no throttle. A throttling plan
    /// never charges for extra traffic (it has no <see cref="PricePerExtraGb"/>).
    /// </summary>
    public int? ThrottleMbit { get; set; }

    /// <summary>Whether customers can order it (existing VPSes keep it either way).</summary>
    public bool Active { get; set; } = true;

    /// <summary>Position on the order page.</summary>
    public int SortOrder { get; set; }

    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>The plan's approach in plain words, for customers.</summary>
    public static string Describe(VirtualizationKind approach) => approach switch
    {
        VirtualizationKind.Container => "Container (shares the host kernel; fastest, lightest)",
        VirtualizationKind.ParaVirtual => "Para-virtual (its own Linux kernel, User-Mode Linux)",
        VirtualizationKind.FullVm => "Full virtual machine (emulated hardware, QEMU)",
        _ => approach.ToString(),
    };
}
