namespace Panel.Core.Domain.Hosting;

/// <summary>What a hosting customer buys: how many sites, and the limits of the container that serves them.</summary>
public sealed class HostingPlan
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>Unique display name, e.g. "Web S".</summary>
    public string Name { get; set; } = "";

    /// <summary>How many sites a tenant on this plan may have.</summary>
    public int MaxSites { get; set; }

    /// <summary>The tenant container's disk (bytes): a hard quota over all its sites.</summary>
    public long DiskBytes { get; set; }

    /// <summary>Monthly traffic allowance through the edge (bytes); null for unmetered.</summary>
    public long? MonthlyBandwidthBytes { get; set; }

    /// <summary>CPUs of the tenant container.</summary>
    public int Vcpus { get; set; }

    /// <summary>Memory of the tenant container (bytes).</summary>
    public long MemoryBytes { get; set; }

    /// <summary>Monthly price (installation currency).</summary>
    public decimal MonthlyPrice { get; set; }

    /// <summary>Whether customers can choose it.</summary>
    public bool Active { get; set; } = true;

    /// <summary>
    /// The (inactive, container) compute plan the tenant container is provisioned with: the engine and
    /// the provisioning machinery know plans, so a hosting plan keeps one with its limits.
    /// </summary>
    public int ComputePlanId { get; set; }

    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}
