namespace Panel.Core.Domain.Billing;

/// <summary>
/// A stretch of whole UTC hours in which a VPS kept one billing state (owner, plan, status, billable):
/// <c>[FromHour, ToHour)</c>, or from <see cref="FromHour"/> up to the meter's watermark while
/// <see cref="ToHour"/> is null (the open segment; at most one per VPS). The metering job
/// (<see cref="Services.UsageMeter"/>) only writes where something changed: it closes a VPS's open
/// segment at the watermark and opens the next one when the state it sees differs, closes it at the
/// hour of deletion, and opens the first one from the hour of creation. A VPS's hours in a period are
/// the overlap of its segments with the period. See <see cref="BillingRules"/> for which hours are billable.
/// </summary>
public sealed class UsageSegment
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>The VPS's owner (who is billed).</summary>
    public Guid OwnerId { get; set; }

    /// <summary>The plan the VPS had when its hours were metered: its prices apply to them.</summary>
    public int PlanId { get; set; }

    /// <summary>The VPS's status when metered (for the usage page: hours by state).</summary>
    public string Status { get; set; } = "";

    /// <summary>Whether its hours are charged (false for an order whose provisioning failed).</summary>
    public bool Billable { get; set; }

    /// <summary>The first hour (UTC, whole hour).</summary>
    public DateTime FromHour { get; set; }

    /// <summary>The end (UTC, whole hour, exclusive); null while open: it then ends at the watermark.</summary>
    public DateTime? ToHour { get; set; }

    /// <summary>Its hours in [<paramref name="start"/>, <paramref name="end"/>), an open segment ending at <paramref name="watermark"/>.</summary>
    public int HoursIn(DateTime start, DateTime end, DateTime watermark) => Overlap(FromHour, ToHour ?? watermark, start, end);

    /// <summary>Whole hours of [<paramref name="from"/>, <paramref name="to"/>) within [<paramref name="start"/>, <paramref name="end"/>) (0 when apart).</summary>
    public static int Overlap(DateTime from, DateTime to, DateTime start, DateTime end)
    {
        var first = from > start ? from : start;
        var last = to < end ? to : end;
        return last > first ? (int)((last - first).Ticks / TimeSpan.TicksPerHour) : 0;
    }
}

/// <summary>
/// The meter's watermark, a single row: every VPS's hours before <see cref="MeteredUntil"/> are in
/// <see cref="UsageSegment"/>s. Each metering run locks it <c>FOR UPDATE</c>, so runs (late, twice, on
/// two nodes) are serialized, and a run that finds it at the last ended hour does nothing.
/// </summary>
public sealed class UsageWatermark
{
    /// <summary>The one row's key.</summary>
    public const int SingletonId = 1;

    /// <summary>Always <see cref="SingletonId"/>.</summary>
    public int Id { get; set; } = SingletonId;

    /// <summary>Metered up to this hour (UTC, exclusive); null before the first run.</summary>
    public DateTime? MeteredUntil { get; set; }

    /// <summary>
    /// How many segments are open, kept by the meter (only it writes segments): a run reports the hours it
    /// added without counting the VPSes it did not touch. Billing never reads it.
    /// </summary>
    public int OpenSegments { get; set; }
}

/// <summary>
/// A VPS whose billing state (owner, plan, status, node, creation or deletion time) may have changed since
/// the meter last looked at it: written by triggers on <c>vpses</c> (every insert, and every update of
/// those columns), taken and removed by the metering run. So a run reads only these VPSes, not all of them.
/// </summary>
public sealed class UsageChange
{
    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>When it last changed (UTC, the database's clock).</summary>
    public DateTime ChangedAt { get; set; }
}

/// <summary>
/// A VPS's traffic (bytes, both ways) on one UTC day, added up from the node's port counters by
/// <see cref="Services.TrafficMeter"/>: each sample's delta once. Billing periods start at 00:00 UTC, so
/// a period's traffic is the sum of its days.
/// </summary>
public sealed class VpsTrafficDay
{
    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>The UTC day.</summary>
    public DateOnly Day { get; set; }

    /// <summary>Bytes received and sent that day.</summary>
    public long Bytes { get; set; }
}

/// <summary>
/// The last port-counter sample of a VPS that was counted into <see cref="VpsTrafficDay"/>: the next
/// sample's delta is taken against it (a counter below it means the guest's port was made anew - a
/// restart or a migration - and the new value is counted whole). Locked while a sample is counted.
/// </summary>
public sealed class VpsTrafficCounter
{
    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>The sample's minute (UTC).</summary>
    public DateTime At { get; set; }

    /// <summary>Received bytes, as the counter read.</summary>
    public long RxBytes { get; set; }

    /// <summary>Sent bytes, as the counter read.</summary>
    public long TxBytes { get; set; }
}
