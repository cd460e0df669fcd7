namespace Panel.Core.Domain.Billing;

/// <summary>
/// One metered UTC hour of one VPS: written once by the metering job (<c>INSERT … ON CONFLICT DO
/// NOTHING</c> on the key (vps, hour)), so an hour is never counted twice however often, late or
/// concurrently the job runs. See <see cref="BillingRules"/> for which hours are billable.
/// </summary>
public sealed class UsageHour
{
    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>The hour's start (UTC, whole hour).</summary>
    public DateTime HourStart { get; set; }

    /// <summary>The VPS's owner (who is billed).</summary>
    public Guid OwnerId { get; set; }

    /// <summary>The plan the VPS had when the hour was metered: its prices apply to the hour.</summary>
    public int PlanId { get; set; }

    /// <summary>The VPS's status when metered (for the usage page: hours by state).</summary>
    public string Status { get; set; } = "";

    /// <summary>Whether the hour is charged (false for an order whose provisioning failed).</summary>
    public bool Billable { get; set; }

    /// <summary>
    /// Traffic in the hour (bytes, both ways), once per-node counters are collected; null: not
    /// measured (counted as 0).
    /// </summary>
    public long? BandwidthBytes { get; set; }
}
