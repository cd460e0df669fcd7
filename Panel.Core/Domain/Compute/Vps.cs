using Panel.Core.Domain.Networking;
using Panel.Core.Domain.Nodes;

namespace Panel.Core.Domain.Compute;

/// <summary>Where a VPS is in its life, as the panel knows it (the engine is the source of the observed part).</summary>
public enum VpsStatus
{
    /// <summary>Accepted; the provision job has not finished.</summary>
    Creating,

    /// <summary>Running on its node.</summary>
    Running,

    /// <summary>Stopped on its node.</summary>
    Stopped,

    /// <summary>Stopped by billing or an admin; the customer cannot start it.</summary>
    Suspended,

    /// <summary>The last operation failed; <see cref="Vps.StatusReason"/> says why.</summary>
    Error,

    /// <summary>Being deleted.</summary>
    Deleting,

    /// <summary>Gone; the row stays for history and billing.</summary>
    Deleted,
}

/// <summary>A virtual private server: what the customer owns, where it runs, and what it should be doing.</summary>
public sealed class Vps
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The engine's id of the guest on its node (<c>v</c> + 12 hex digits), fixed for life.</summary>
    public string EngineId { get; set; } = "";

    /// <summary>The owning customer.</summary>
    public Guid OwnerId { get; set; }

    /// <summary>Host name; unique among the owner's live VPSes.</summary>
    public string Hostname { get; set; } = "";

    /// <summary>The plan it was bought with (resources below are copied from it).</summary>
    public int PlanId { get; set; }

    /// <summary>The plan.</summary>
    public Plan Plan { get; set; } = default!;

    /// <summary>The installed image.</summary>
    public int ImageId { get; set; }

    /// <summary>The image.</summary>
    public OsImage Image { get; set; } = default!;

    /// <summary>The node holding its resources, or null when it holds none (failed before placement, deleted).</summary>
    public int? NodeId { get; set; }

    /// <summary>The node.</summary>
    public Node? Node { get; set; }

    /// <summary>The guest's MAC address (derived from the engine id).</summary>
    public string MacAddress { get; set; } = "";

    /// <summary>vCPUs (from the plan).</summary>
    public int Vcpus { get; set; }

    /// <summary>Memory (bytes).</summary>
    public long MemoryBytes { get; set; }

    /// <summary>Disk (bytes).</summary>
    public long DiskBytes { get; set; }

    /// <summary>Process limit.</summary>
    public int MaxProcesses { get; set; }

    /// <summary>Port speed cap (Mbit/s) in force, or null: the plan's, or its throttle speed while <see cref="ThrottledUntil"/> is set.</summary>
    public int? PortSpeedMbit { get; set; }

    /// <summary>
    /// While its traffic allowance is used up on a throttling plan (<see cref="Plan.ThrottleMbit"/>): the end of
    /// the billing period (UTC) until which <see cref="PortSpeedMbit"/> is the throttle speed; null otherwise.
    /// </summary>
    public DateTime? ThrottledUntil { get; set; }

    /// <summary>The lifecycle status.</summary>
    public VpsStatus Status { get; set; }

    /// <summary>Whether it should be running (reconciliation starts it when it is not).</summary>
    public bool ShouldRun { get; set; }

    /// <summary>Why it is in Error or Suspended.</summary>
    public string? StatusReason { get; set; }

    /// <summary>The operation that holds it; one at a time per VPS.</summary>
    public long? BusyOperationId { get; set; }

    /// <summary>While a cold migration runs: the node it moves to (its capacity is held there until it lands or the move fails).</summary>
    public int? MigrationTargetNodeId { get; set; }

    /// <summary>
    /// The id an external billing system gave it (the provisioning API's key): unique across the
    /// installation, deleted VPSes included, so one service id names one VPS for good.
    /// </summary>
    public string? ExternalServiceId { get; set; }

    /// <summary>When it was ordered (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Last change (UTC).</summary>
    public DateTime UpdatedAt { get; set; }

    /// <summary>When it was deleted (UTC).</summary>
    public DateTime? DeletedAt { get; set; }

    /// <summary>Its addresses.</summary>
    public List<IpAddress> Addresses { get; set; } = [];

    /// <summary>Optimistic concurrency (PostgreSQL's xmin).</summary>
    public uint Version { get; set; }

    /// <summary>Whether it counts against its node's capacity.</summary>
    public bool HoldsResources => NodeId is not null && Status is not VpsStatus.Deleted;
}
